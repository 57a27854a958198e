/** The machine lifecycle table (machines/lifecycle.ts), every action from every status. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import type { MachineStatus } from "../../src/machines/Machine.js"
import { InvalidTransition } from "../../src/machines/MachineErrors.js"
import { eventOf, type OperatorAction, transition } from "../../src/machines/lifecycle.js"

const STATUSES: ReadonlyArray<MachineStatus> = ["pending_approval", "approved", "attested", "rejected", "locked", "revoked"]
const ACTIONS: ReadonlyArray<OperatorAction> = ["approve", "reject", "lock", "unlock", "revoke"]

/** action → from → the status it leads to (absent: refused). */
const allowed: Record<OperatorAction, Partial<Record<MachineStatus, MachineStatus>>> = {
  approve: { pending_approval: "approved" },
  reject: { pending_approval: "rejected" },
  lock: { approved: "locked", attested: "locked" },
  unlock: { locked: "attested" },
  revoke: { pending_approval: "revoked", approved: "revoked", attested: "revoked", rejected: "revoked", locked: "revoked" }
}

describe("machine lifecycle", () => {
  for (const action of ACTIONS) {
    for (const from of STATUSES) {
      const to = allowed[action][from]
      it.effect(`${action} from ${from}: ${to ?? "refused"}`, () =>
        Effect.gen(function* () {
          const result = transition(action, from, from === "locked" ? "attested" : null)
          if (to === undefined) {
            const refusal = yield* Effect.flip(result)
            expect(refusal).toBeInstanceOf(InvalidTransition)
            expect(refusal._tag).toBe("InvalidTransition")
            expect(refusal.current).toBe(from)
            // The message the API answers with (409 invalid_transition).
            expect(refusal.message).toBe(`cannot ${action} a machine whose status is ${from}`)
          } else {
            const change = yield* result
            expect(change.status).toBe(to)
            // Only a lock remembers where to go back to.
            expect(change.statusBeforeLock).toBe(action === "lock" ? from : null)
          }
        })
      )
    }
  }

  it.effect("unlock returns to the status before the lock, approved when none was recorded", () =>
    Effect.gen(function* () {
      expect((yield* transition("unlock", "locked", "approved")).status).toBe("approved")
      expect((yield* transition("unlock", "locked", "attested")).status).toBe("attested")
      expect((yield* transition("unlock", "locked", null)).status).toBe("approved")
    })
  )

  it.effect("a pending machine never reaches attested by an operator action", () =>
    Effect.sync(() => {
      for (const action of ACTIONS) {
        const result = transition(action, "pending_approval", null)
        if (Either.isRight(result)) expect(result.right.status).not.toBe("attested")
      }
    })
  )

  it("each action names its event", () => {
    expect(eventOf).toEqual({
      approve: "machine.approved",
      reject: "machine.rejected",
      lock: "machine.locked",
      unlock: "machine.unlocked",
      revoke: "machine.revoked"
    })
  })
})
