/**
 * The event types secret_vault appends (MachineSecrets.ts, SharedSecrets.ts).
 * No payload ever holds a secret value: events leave the platform through
 * webhooks. The declarations have no excess properties, so a value added to a
 * payload by mistake fails `Events.append` in the tests.
 */
import { defineEvent, type EventDefinition } from "@itl-attestation/core"
import { Schema } from "effect"
import { DeliveryScheme } from "./Secret.js"

const secret = { secret_id: Schema.UUID, machine_id: Schema.UUID, name: Schema.String }
const shared = { shared_secret_id: Schema.UUID, name: Schema.String }
const operator = (description: string) => Schema.String.annotations({ description })

export const secretVaultEvents: ReadonlyArray<EventDefinition> = [
  defineEvent({
    type: "secret.created",
    description: "An operator stored a secret for a machine.",
    payload: Schema.Struct({ ...secret, created_by: operator("Operator token that stored it") })
  }),
  defineEvent({
    type: "secret.accessed",
    description: "An attested machine fetched one of its secrets (sealed to its TPM).",
    payload: Schema.Struct({ ...secret, scheme: DeliveryScheme })
  }),
  defineEvent({
    type: "secret.deleted",
    description: "An operator deleted a machine's secret.",
    payload: Schema.Struct({ ...secret, deleted_by: operator("Operator token that deleted it") })
  }),
  defineEvent({
    type: "shared_secret.created",
    description: "An operator created a shared secret.",
    payload: Schema.Struct({ ...shared, created_by: operator("Operator token that created it") })
  }),
  defineEvent({
    type: "shared_secret.rotated",
    description: "An operator replaced a shared secret's value.",
    payload: Schema.Struct({ ...shared, rotated_by: operator("Operator token that rotated it") })
  }),
  defineEvent({
    type: "shared_secret.deleted",
    description: "An operator deleted a shared secret.",
    payload: Schema.Struct({ ...shared, deleted_by: operator("Operator token that deleted it") })
  }),
  defineEvent({
    type: "shared_secret.access_granted",
    description: "An operator allowed a machine (`machine_id` of the event) to read a shared secret.",
    payload: Schema.Struct({ ...shared, granted_by: operator("Operator token that granted access") })
  }),
  defineEvent({
    type: "shared_secret.access_revoked",
    description: "An operator withdrew a machine's (`machine_id` of the event) access to a shared secret.",
    payload: Schema.Struct({ ...shared, revoked_by: operator("Operator token that revoked access") })
  }),
  defineEvent({
    type: "shared_secret.accessed",
    description: "An attested machine (`machine_id` of the event) fetched a shared secret.",
    payload: Schema.Struct(shared)
  })
]
