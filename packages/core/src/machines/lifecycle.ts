/**
 * The machine lifecycle as one pure function, so the table
 * is read in one place:
 *
 *   pending_approval --approve--> approved --(good attestation)--> attested
 *   pending_approval --reject---> rejected
 *   approved|attested --lock---> locked --unlock--> (the status before the lock)
 *   anything but revoked --revoke--> revoked (terminal)
 */
import { Either } from "effect"
import type { MachineStatus } from "./Machine.js"
import { InvalidTransition, type OperatorAction } from "./MachineErrors.js"

export type { OperatorAction } from "./MachineErrors.js"

export interface StatusChange {
  readonly status: MachineStatus
  readonly statusBeforeLock: MachineStatus | null
}

export const transition = (
  action: OperatorAction,
  current: MachineStatus,
  statusBeforeLock: MachineStatus | null
): Either.Either<StatusChange, InvalidTransition> => {
  const refuse = Either.left(new InvalidTransition({ action, current }))
  switch (action) {
    case "approve":
      return current === "pending_approval" ? Either.right({ status: "approved", statusBeforeLock: null }) : refuse
    case "reject":
      return current === "pending_approval" ? Either.right({ status: "rejected", statusBeforeLock: null }) : refuse
    case "lock":
      return current === "approved" || current === "attested"
        ? Either.right({ status: "locked", statusBeforeLock: current })
        : refuse
    case "unlock":
      return current === "locked"
        ? Either.right({ status: statusBeforeLock ?? "approved", statusBeforeLock: null })
        : refuse
    case "revoke":
      return current !== "revoked" ? Either.right({ status: "revoked", statusBeforeLock: null }) : refuse
  }
}

/** The event each operator action emits. */
export const eventOf = {
  approve: "machine.approved",
  reject: "machine.rejected",
  lock: "machine.locked",
  unlock: "machine.unlocked",
  revoke: "machine.revoked"
} as const
