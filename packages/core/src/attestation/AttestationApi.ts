import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Forbidden, NotFound, TooManyRequests } from "../http/ApiError.js"
import { Machine, MachineId } from "../machines/Machine.js"
import { MachinesRead, MachinesWrite } from "../authorization/coreScopes.js"
import { requireScope } from "../authorization/Policy.js"
import { MachineAuthentication } from "../sessions/MachineAuthentication.js"
import { OperatorAlternative } from "../sessions/OperatorAlternative.js"
import { AttestationChallenge, AttestationChallengeRequest, AttestationRequest, AttestationResult } from "./AttestationModels.js"
import { PcrPolicy, PcrPolicyView } from "./PcrPolicy.js"

/** For machines, before they hold a session: the evidence is the credential. */
export class AttestationApi extends HttpApiGroup.make("attestation")
  .add(
    HttpApiEndpoint.post("challenge", "/attest/challenge")
      .setPayload(AttestationChallengeRequest)
      .addSuccess(AttestationChallenge)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(TooManyRequests)
  )
  .add(
    HttpApiEndpoint.post("attest", "/attest")
      .setPayload(AttestationRequest)
      .addSuccess(AttestationResult)
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(TooManyRequests)
  )
  .prefix("/api/v1") {}

/** For a machine holding a session token (or the header, in the compatibility mode). */
export class MachineSelfApi extends HttpApiGroup.make("machineSelf")
  .add(HttpApiEndpoint.get("me", "/machines/me").addSuccess(Machine).addError(NotFound))
  .annotate(OperatorAlternative, "GET /api/v1/machines/{id} (`attestation machine get <id>`)")
  .middleware(MachineAuthentication)
  .prefix("/api/v1") {}

export class PcrPolicyApi extends HttpApiGroup.make("pcrPolicy")
  .add(
    HttpApiEndpoint.get("getForMachine", "/machines/:id/pcr-policy")
      .setPath(Schema.Struct({ id: MachineId }))
      .addSuccess(PcrPolicyView)
      .addError(NotFound)
      .middleware(requireScope(MachinesRead))
  )
  .add(
    HttpApiEndpoint.put("setForMachine", "/machines/:id/pcr-policy")
      .setPath(Schema.Struct({ id: MachineId }))
      .setPayload(PcrPolicy)
      .addSuccess(PcrPolicyView)
      .addError(NotFound)
      .addError(BadRequest)
      .middleware(requireScope(MachinesWrite))
  )
  .add(
    HttpApiEndpoint.del("clearForMachine", "/machines/:id/pcr-policy")
      .setPath(Schema.Struct({ id: MachineId }))
      .addSuccess(PcrPolicyView)
      .addError(NotFound)
      .middleware(requireScope(MachinesWrite))
  )
  .add(HttpApiEndpoint.get("getDefault", "/pcr-policy").addSuccess(PcrPolicyView).middleware(requireScope(MachinesRead)))
  .add(
    HttpApiEndpoint.put("setDefault", "/pcr-policy")
      .setPayload(PcrPolicy)
      .addSuccess(PcrPolicyView)
      .addError(BadRequest)
      .middleware(requireScope(MachinesWrite))
  )
  .add(HttpApiEndpoint.del("clearDefault", "/pcr-policy").addSuccess(PcrPolicyView).middleware(requireScope(MachinesWrite)))
  .addError(Forbidden)
  .prefix("/api/v1") {}
