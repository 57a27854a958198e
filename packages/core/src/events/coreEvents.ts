/**
 * The core's own event types (owner `core`): the machine lifecycle. Every
 * payload starts with the machine's identity and status (machines/machineEvent.ts)
 * and adds what the change did.
 */
import { Schema } from "effect"
import { MachineStatus } from "../machines/Machine.js"
import { defineEvent, type EventDefinition } from "./EventDefinition.js"

const machine = {
  machine_id: Schema.UUID,
  hostname: Schema.String,
  ek_fingerprint: Schema.String,
  status: MachineStatus
}

/** An operator's lifecycle action (machines/Machines.ts). */
const operatorChange = {
  ...machine,
  previous_status: MachineStatus,
  reason: Schema.optional(Schema.String),
  actor: Schema.String.annotations({ description: "Name of the operator token that made the change" })
}

const PolicySource = Schema.Literal("machine", "default")

export const coreEvents: ReadonlyArray<EventDefinition> = [
  defineEvent({
    type: "machine.registered",
    description: "A new machine registered its TPM endorsement key; it waits for approval.",
    payload: Schema.Struct(machine)
  }),
  defineEvent({
    type: "machine.approved",
    description: "An operator approved a pending machine.",
    payload: Schema.Struct(operatorChange)
  }),
  defineEvent({
    type: "machine.rejected",
    description: "An operator rejected a pending machine.",
    payload: Schema.Struct(operatorChange)
  }),
  defineEvent({
    type: "machine.locked",
    description:
      "A machine was locked: by an operator (`actor` set), or by the platform when its failed attestations reached the threshold (`failed_attestations` set).",
    payload: Schema.Struct({
      ...machine,
      previous_status: MachineStatus,
      reason: Schema.optional(Schema.String),
      actor: Schema.optional(Schema.String),
      failed_attestations: Schema.optional(Schema.Int)
    })
  }),
  defineEvent({
    type: "machine.unlocked",
    description: "An operator unlocked a machine; it returns to the status it had before the lock.",
    payload: Schema.Struct({ ...operatorChange, failed_attestations_reset_from: Schema.optional(Schema.Int) })
  }),
  defineEvent({
    type: "machine.revoked",
    description: "An operator revoked a machine (terminal).",
    payload: Schema.Struct(operatorChange)
  }),
  defineEvent({
    type: "machine.deleted",
    description: "An admin deleted a machine and everything that referenced it.",
    payload: Schema.Struct({ ...machine, actor: Schema.String })
  }),
  defineEvent({
    type: "machine.attested",
    description: "A machine proved its state with a quote signed by its enrolled AK and received a session.",
    payload: Schema.Struct({
      ...machine,
      previous_status: MachineStatus,
      pcr_policy_recorded: Schema.optional(
        Schema.String.annotations({ description: "PCR selection recorded as the machine's policy on its first good quote" })
      )
    })
  }),
  defineEvent({
    type: "machine.attestation_failed",
    description: "A quote signed by the machine's own AK failed verification (counted), or came from a machine in a status that may not attest.",
    payload: Schema.Struct({
      ...machine,
      reason: Schema.String.annotations({
        description: "nonce_mismatch, nonce_expired, pcr_selection_mismatch, pcr_mismatch, no_pcr_policy, or machine_<status>"
      }),
      failed_attestations: Schema.optional(Schema.Int),
      requested: Schema.optional(Schema.String),
      quoted: Schema.optional(Schema.String),
      pcrs: Schema.optional(Schema.Array(Schema.String)),
      policy: Schema.optional(PolicySource)
    })
  })
]
