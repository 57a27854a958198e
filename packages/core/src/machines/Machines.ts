/**
 * The machine registry: registration, lookups and the operator lifecycle.
 * Each change commits with its audit row and its event in one transaction.
 */
import { Effect, Either, Option } from "effect"
import { AuditedChanges } from "../audit/AuditedChanges.js"
import { actorOf, authorized } from "../authorization/Authorized.js"
import { MachinesAdmin, MachinesRead, MachinesWrite } from "../authorization/coreScopes.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { type MachineId, type MachinePage as MachinePageType, MachinePage, toMachine } from "./Machine.js"
import { MachineNotFound } from "./MachineErrors.js"
import { type MachineFilter, MachineRepo } from "./MachineRepo.js"
import { MachineSessions } from "../sessions/MachineSessions.js"
import { machineChange } from "./machineEvent.js"
import { eventOf, type OperatorAction, transition } from "./lifecycle.js"
import { traced } from "../observability/traced.js"

export class Machines extends Effect.Service<Machines>()("@itl-attestation/core/Machines", {
  effect: Effect.gen(function* () {
    const repo = yield* MachineRepo
    const sessions = yield* MachineSessions
    const changes = yield* AuditedChanges

    const findOrFail = (id: MachineId) =>
      Effect.flatMap(repo.findById(id), Option.match({ onNone: () => Effect.fail(new MachineNotFound({ id })), onSome: Effect.succeed }))

    /** The row locked until the transaction ends, so concurrent changes serialise. */
    const lockOrFail = (id: MachineId) =>
      Effect.flatMap(repo.findByIdForUpdate(id), Option.match({ onNone: () => Effect.fail(new MachineNotFound({ id })), onSome: Effect.succeed }))

    const get = (id: MachineId) =>
      Effect.gen(function* () {
        yield* authorized(MachinesRead)
        return toMachine(yield* findOrFail(id))
      }).pipe(sqlDefect, traced("Machines.get"))

    const list = (filter: MachineFilter) =>
      Effect.gen(function* () {
        yield* authorized(MachinesRead)
        const { rows, total } = yield* repo.list(filter)
        return new MachinePage({ machines: rows.map(toMachine), total, limit: filter.limit, offset: filter.offset }) as MachinePageType
      }).pipe(sqlDefect, traced("Machines.list"))

    const act = (action: OperatorAction, id: MachineId, reason: string | undefined) =>
      Effect.gen(function* () {
        const operator = yield* authorized(MachinesWrite)
        const { updated } = yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            const current = yield* lockOrFail(id)
            const change = transition(action, current.status, current.status_before_lock)
            if (Either.isLeft(change)) return yield* change.left
            // Unlocking starts a fresh failure count: one more bad quote must not lock the machine again.
            const resetFailures = action === "unlock" && current.failed_attestations > 0
            const updated = yield* repo.updateStatus({
              id,
              ...change.right,
              reason: reason ?? null,
              resetFailures,
              approvedBy: action === "approve" ? operator.name : null
            })
            // A locked or revoked machine's sessions end now, not when they expire.
            if (action === "lock" || action === "revoke") yield* sessions.endAll(id)
            const details = {
              previous_status: current.status,
              status: updated.status,
              ...(reason ? { reason } : {}),
              ...(resetFailures ? { failed_attestations_reset_from: current.failed_attestations } : {})
            }
            return { updated, details }
          }),
          ({ updated, details }) => ({
            action: eventOf[action],
            targetType: "machine",
            targetId: updated.id,
            details,
            events: [machineChange(eventOf[action], updated, { ...details, actor: operator.name })]
          })
        )
        return toMachine(updated)
      }).pipe(sqlDefect, traced(`Machines.${action}`))

    const remove = (id: MachineId) =>
      Effect.gen(function* () {
        const operator = yield* authorized(MachinesAdmin)
        yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            const current = yield* lockOrFail(id)
            // Extension rows referencing the machine go with it (ON DELETE CASCADE).
            yield* repo.remove(id)
            return current
          }),
          (current) => ({
            action: "machine.deleted",
            targetType: "machine",
            targetId: current.id,
            details: { hostname: current.hostname, ek_fingerprint: current.ek_fingerprint },
            events: [machineChange("machine.deleted", current, { actor: operator.name })]
          })
        )
      }).pipe(sqlDefect, traced("Machines.delete"))

    return {
      get,
      list,
      approve: (id: MachineId, reason?: string) => act("approve", id, reason),
      reject: (id: MachineId, reason?: string) => act("reject", id, reason),
      lock: (id: MachineId, reason?: string) => act("lock", id, reason),
      unlock: (id: MachineId, reason?: string) => act("unlock", id, reason),
      revoke: (id: MachineId, reason?: string) => act("revoke", id, reason),
      remove
    } as const
  }),
  dependencies: [MachineRepo.Default, MachineSessions.Default]
}) {}
