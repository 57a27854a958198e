/**
 * What can go wrong in the machine registry, in its own terms. No HTTP here:
 * the handlers (MachineHttp.ts, AttestationHttp.ts) choose the status and the
 * error code each endpoint answers with. The messages are the ones clients see.
 */
import { Schema } from "effect"
import { MachineId, MachineStatus } from "./Machine.js"

export class MachineNotFound extends Schema.TaggedError<MachineNotFound>()("MachineNotFound", {
  id: MachineId
}) {
  override get message() {
    return `machine ${this.id} not found`
  }
}

export const OperatorAction = Schema.Literal("approve", "reject", "lock", "unlock", "revoke")
export type OperatorAction = typeof OperatorAction.Type

/** The lifecycle (lifecycle.ts) does not allow `action` from the machine's `current` status. */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  action: OperatorAction,
  current: MachineStatus
}) {
  override get message() {
    return `cannot ${this.action} a machine whose status is ${this.current}`
  }
}
