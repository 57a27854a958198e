/**
 * One audited change, the way every change in the platform is made: the
 * caller's authorization has already named an actor (the endpoint's policy, or
 * the machine's session); then, in one SQL transaction, the change itself,
 * its audit row and its events — all three commit or none does, and the
 * events reach subscribers only after the commit.
 *
 * ```ts
 * changes.run(actor, sql`DELETE … RETURNING *`, (row) => ({
 *   action: "note.deleted", targetType: "note", targetId: row.id,
 *   events: [{ type: "my_ext.note_deleted", data: { note_id: row.id } }]
 * }))
 * ```
 *
 * Audit details and event data are recorded as given: never put a secret in
 * them (events leave the platform through webhooks).
 */
import { DateTime, Effect } from "effect"
import { DomainEvent } from "../events/Event.js"
import { Events } from "../events/Events.js"
import type { Actor } from "./AuditEntry.js"
import { AuditLog } from "./AuditLog.js"

export interface ChangeEvent {
  /** A type declared in the event catalog, e.g. `machine.approved`. */
  readonly type: string
  readonly machineId?: string | null | undefined
  readonly data: Record<string, unknown>
}

/** What the change did, for the audit row and the outbox. */
export interface ChangeRecord {
  readonly action: string
  readonly targetType: string
  readonly targetId: string | null
  readonly details?: Record<string, unknown>
  readonly events?: ReadonlyArray<ChangeEvent>
}

export class AuditedChanges extends Effect.Service<AuditedChanges>()("@itl-attestation/core/AuditedChanges", {
  effect: Effect.gen(function* () {
    const audit = yield* AuditLog
    const events = yield* Events

    const record = (actor: Actor, change: ChangeRecord) =>
      Effect.gen(function* () {
        yield* audit.append(actor, {
          action: change.action,
          targetType: change.targetType,
          targetId: change.targetId,
          ...(change.details === undefined ? {} : { details: change.details })
        })
        const timestamp = DateTime.unsafeNow()
        for (const event of change.events ?? []) {
          yield* events.append(
            new DomainEvent({
              event_type: event.type as DomainEvent["event_type"],
              timestamp,
              ...(event.machineId ? { machine_id: event.machineId } : {}),
              data: event.data
            })
          )
        }
      })

    /**
     * Runs `work` and records what `describe` says it did, in one transaction.
     * When `work` fails nothing is recorded and nothing commits; when
     * `describe` answers undefined (the work changed nothing) nothing is recorded.
     */
    const run = <A, E, R>(actor: Actor, work: Effect.Effect<A, E, R>, describe: (result: A) => ChangeRecord | undefined) =>
      events.transaction(
        Effect.tap(work, (result) => {
          const change = describe(result)
          return change === undefined ? Effect.void : record(actor, change)
        })
      )

    return { run } as const
  })
}) {}
