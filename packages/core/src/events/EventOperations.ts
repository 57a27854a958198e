/**
 * What operators do with the event system over HTTP: read the catalog, look
 * at and stop/start durable consumers, list and replay dead letters. Every
 * change commits with its audit row.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { AuditLog } from "../audit/AuditLog.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { Conflict, NotFound } from "../http/ApiError.js"
import { actorOf, authorized } from "../authorization/Authorized.js"
import { EventsRead, EventsWrite } from "../authorization/coreScopes.js"
import { Events } from "./Events.js"
import { DeadLetter, DeadLetterPage, EventTypeInfo, EventTypeList, ReplayOutcome, ReplayPending } from "./EventsApi.js"
import { traced } from "../observability/traced.js"

/** How long a replay request waits for the consumer's instance to run it before answering 202. */
const REPLAY_WAIT_MS = 10_000

interface DeadLetterRow {
  readonly id: string
  readonly consumer: string
  readonly event_seq: string
  readonly event_id: string
  readonly event_type: string
  readonly attempts: number
  readonly last_error: string
  readonly created_at: Date
  readonly replay_requested_at: Date | null
  readonly replay_requested_by: string | null
  readonly replayed_at: Date | null
  readonly replay_failed_at: Date | null
  readonly replay_error: string | null
}

const iso = (date: Date | null) => date?.toISOString() ?? null

const toDeadLetter = (row: DeadLetterRow) =>
  new DeadLetter({
    id: row.id,
    consumer: row.consumer,
    event_seq: Number(row.event_seq),
    event_id: row.event_id,
    event_type: row.event_type,
    attempts: row.attempts,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    replay_requested_at: iso(row.replay_requested_at),
    replay_requested_by: row.replay_requested_by,
    replayed_at: iso(row.replayed_at),
    replay_failed_at: iso(row.replay_failed_at),
    replay_error: row.replay_error
  })

export interface DeadLetterFilter {
  readonly consumer?: string | undefined
  readonly includeReplayed: boolean
  readonly limit: number
  readonly offset: number
}

export class EventOperations extends Effect.Service<EventOperations>()("@itl-attestation/core/EventOperations", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const events = yield* Events
    const audit = yield* AuditLog

    const types = Effect.gen(function* () {
      yield* authorized(EventsRead)
      const entries = yield* events.catalog.list
      return new EventTypeList({
        types: entries.map(
          (entry) =>
            new EventTypeInfo({
              name: entry.definition.type,
              owner: entry.owner,
              description: entry.definition.description,
              payload: entry.jsonSchema as unknown as Record<string, unknown>
            })
        )
      })
    })

    const consumers = Effect.zipRight(authorized(EventsRead), events.consumers()).pipe(sqlDefect)

    const setRunning = (name: string, running: boolean) =>
      Effect.gen(function* () {
        const operator = yield* authorized(EventsWrite)
        yield* events.transaction(
          Effect.gen(function* () {
            if (!(yield* events.setStopped(name, running ? null : operator.name))) {
              return yield* new NotFound({ error: "unknown_consumer", message: `event consumer ${name} not found` })
            }
            yield* audit.append(actorOf(operator), {
              action: running ? "event_consumer.started" : "event_consumer.stopped",
              targetType: "event_consumer",
              targetId: name
            })
          })
        )
        if (running) yield* events.wakeConsumer(name)
        const [status] = yield* events.consumers(name)
        return status!
      }).pipe(sqlDefect, traced(running ? "EventOperations.start" : "EventOperations.stop"))

    const findDeadLetter = (id: string) =>
      sql<DeadLetterRow>`SELECT * FROM event_dead_letters WHERE id = ${id}`.pipe(Effect.map((rows) => rows[0]))

    const deadLetters = (filter: DeadLetterFilter) =>
      Effect.gen(function* () {
        yield* authorized(EventsRead)
        const where = sql.and([
          ...(filter.consumer === undefined ? [] : [sql`consumer = ${filter.consumer}`]),
          ...(filter.includeReplayed ? [] : [sql`replayed_at IS NULL`])
        ])
        const rows = yield* sql<DeadLetterRow>`SELECT * FROM event_dead_letters WHERE ${where}
          ORDER BY created_at DESC, id LIMIT ${filter.limit} OFFSET ${filter.offset}`
        const [count] = yield* sql<{ total: string }>`SELECT count(*)::text AS total FROM event_dead_letters WHERE ${where}`
        return new DeadLetterPage({
          dead_letters: rows.map(toDeadLetter),
          total: Number(count!.total),
          limit: filter.limit,
          offset: filter.offset
        })
      }).pipe(sqlDefect, traced("EventOperations.deadLetters"))

    /**
     * Asks the consumer to run its handler on the event again. Whichever
     * instance holds the consumer's lease picks the request up; this waits
     * (bounded) for the outcome so the operator sees it.
     */
    const replay = (id: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(EventsWrite)
        const letter = yield* events.transaction(
          Effect.gen(function* () {
            const [row] = yield* sql<DeadLetterRow & { stopped: boolean }>`
              SELECT d.*, (c.stopped_at IS NOT NULL) AS stopped
              FROM event_dead_letters d JOIN event_consumers c ON c.name = d.consumer
              WHERE d.id = ${id} FOR UPDATE OF d`
            if (row === undefined) return yield* new NotFound({ error: "unknown_dead_letter", message: `dead letter ${id} not found` })
            if (row.replayed_at !== null) {
              return yield* new Conflict({ error: "already_replayed", message: `dead letter ${id} was already replayed successfully at ${row.replayed_at.toISOString()}` })
            }
            if (row.stopped) {
              return yield* new Conflict({ error: "consumer_stopped", message: `event consumer ${row.consumer} is stopped; start it to replay its dead letters` })
            }
            yield* sql`UPDATE event_dead_letters SET replay_requested_at = now(), replay_requested_by = ${operator.name} WHERE id = ${id}`
            yield* audit.append(actorOf(operator), {
              action: "event_dead_letter.replay_requested",
              targetType: "event_dead_letter",
              targetId: id,
              details: { consumer: row.consumer, event_seq: Number(row.event_seq), event_id: row.event_id, event_type: row.event_type }
            })
            return row
          })
        )
        yield* events.wakeConsumer(letter.consumer)
        const done = yield* findDeadLetter(id).pipe(
          Effect.filterOrFail((row) => row === undefined || row.replay_requested_at === null, () => "pending" as const),
          Effect.tapError(() => Effect.sleep("100 millis")),
          Effect.eventually,
          Effect.timeoutOption(REPLAY_WAIT_MS)
        )
        if (done._tag === "None" || done.value === undefined) {
          const row = yield* findDeadLetter(id)
          if (row === undefined) return yield* new NotFound({ error: "unknown_dead_letter", message: `dead letter ${id} not found` })
          return new ReplayPending({ outcome: "pending", dead_letter: toDeadLetter(row) })
        }
        const row = done.value
        return row.replayed_at !== null
          ? new ReplayOutcome({ outcome: "delivered", error: null, dead_letter: toDeadLetter(row) })
          : new ReplayOutcome({ outcome: "failed", error: row.replay_error, dead_letter: toDeadLetter(row) })
      }).pipe(sqlDefect, traced("EventOperations.replay"))

    return { types, consumers, stop: (name: string) => setRunning(name, false), start: (name: string) => setRunning(name, true), deadLetters, replay } as const
  })
}) {}
