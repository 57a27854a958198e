/** The core's HTTP API: one definition for the server, the OpenAPI document and the CLI's client. */
import { HttpApi, OpenApi } from "@effect/platform"
import { AttestationApi, MachineSelfApi, PcrPolicyApi } from "./attestation/AttestationApi.js"
import { AuditApi } from "./audit/AuditApi.js"
import { EventsApi } from "./events/EventsApi.js"
import { strictPayloads } from "./http/strictPayloads.js"
import { KeyringApi } from "./keyring/KeyringApi.js"
import { MachineApi, MachineRegistrationApi } from "./machines/MachineApi.js"
import { OperatorApi } from "./operators/OperatorApi.js"
import { SystemApi } from "./system/SystemApi.js"

export class CoreApi extends strictPayloads(
  HttpApi.make("attestation")
    .add(SystemApi)
    .add(MachineRegistrationApi)
    .add(AttestationApi)
    .add(MachineSelfApi)
    .add(MachineApi)
    .add(PcrPolicyApi)
    .add(OperatorApi)
    .add(AuditApi)
    .add(KeyringApi)
    .add(EventsApi)
    .annotate(OpenApi.Title, "ITL Attestation Platform")
    .annotate(OpenApi.Description, "TPM 2.0 machine attestation: registry, lifecycle, audit, extensions")
) {}
