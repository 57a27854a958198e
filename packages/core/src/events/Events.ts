/**
 * The transactional outbox and its readers.
 *
 * A domain change writes its event row in the same transaction as the change
 * (`Events.transaction` + `Events.append`). After the commit, in-process
 * subscribers are woken; durable consumers read the `events` table from their
 * own cursor, so a crash between commit and delivery loses nothing.
 *
 * Ordering: every transaction that appends takes the journal lock first, so
 * events commit in `seq` order and a consumer reading `seq > cursor` never
 * skips a row that commits later with a smaller seq.
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Duration, Effect, FiberRef, Option, PubSub, Queue, Schedule, Schema, Scope } from "effect"
import * as crypto from "node:crypto"
import { DomainEvent, StoredEvent } from "./Event.js"

/** Advisory lock taken by every journaled transaction (audit rows and events). */
export const JOURNAL_LOCK_KEY = 7_316_002

/** Events appended by the current transaction, published once it commits. */
const pendingEvents = FiberRef.unsafeMake<Array<StoredEvent> | undefined>(undefined)

interface EventRow {
  readonly seq: string
  readonly id: string
  readonly event_type: string
  readonly timestamp: Date
  readonly machine_id: string | null
  readonly data: unknown
}

const decodeStored = Schema.decodeUnknown(StoredEvent)
const toStored = (row: EventRow) =>
  decodeStored({
    seq: Number(row.seq),
    id: row.id,
    event_type: row.event_type,
    timestamp: row.timestamp.toISOString(),
    ...(row.machine_id === null ? {} : { machine_id: row.machine_id }),
    data: typeof row.data === "string" ? JSON.parse(row.data) : row.data
  }).pipe(Effect.orDie)

export interface ConsumerOptions<E, R> {
  /** Unique and stable: the cursor is stored under this name. */
  readonly name: string
  /** Where a consumer seen for the first time starts: only new events (default) or all history. */
  readonly startAt?: "end" | "beginning"
  readonly batchSize?: number
  /** How often to look for events committed by other instances. */
  readonly pollInterval?: Duration.DurationInput
  /** How long a claim on the cursor lasts before another instance may take over. */
  readonly leaseDuration?: Duration.DurationInput
  /** Called with events in order; the cursor advances only after it succeeds (at-least-once). */
  readonly handle: (events: ReadonlyArray<StoredEvent>) => Effect.Effect<void, E, R>
}

export class Events extends Effect.Service<Events>()("@itl-attestation/core/Events", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const committed = yield* PubSub.unbounded<StoredEvent>()
    const instanceId = crypto.randomUUID()

    const publishAll = (events: ReadonlyArray<StoredEvent>) =>
      events.length === 0 ? Effect.void : PubSub.publishAll(committed, events)

    /**
     * Runs `effect` in one SQL transaction holding the journal lock; events it
     * appends are published to in-process subscribers only after the commit.
     */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        const outer = yield* FiberRef.get(pendingEvents)
        if (outer !== undefined) return yield* effect // already inside: the outer commit publishes
        const pending: Array<StoredEvent> = []
        // Uninterruptible: when a client disconnects mid-request the handler's
        // fiber is interrupted, and @effect/sql-pg would cancel the running
        // statement through the same pool — which, under load, is full of
        // transactions waiting for the journal lock this one holds. The cancel
        // then waits out its 5 s timeout while every journaled write stalls
        // (found by the registration bench). A short transaction that always
        // runs to its commit or rollback is the better trade.
        const result = yield* Effect.uninterruptible(
          sql.withTransaction(
            sql`SELECT pg_advisory_xact_lock(${JOURNAL_LOCK_KEY})`.pipe(
              Effect.zipRight(effect),
              Effect.locally(pendingEvents, pending)
            )
          )
        )
        yield* publishAll(pending)
        return result
      })

    const append = (event: DomainEvent) =>
      Effect.gen(function* () {
        const [row] = yield* sql<EventRow>`
          INSERT INTO events (event_type, timestamp, machine_id, data)
          VALUES (${event.event_type}, ${DateTime.toDateUtc(event.timestamp)},
                  ${event.machine_id ?? null}, ${JSON.stringify(event.data)}::jsonb)
          RETURNING seq::text AS seq, id, event_type, timestamp, machine_id, data`
        const stored = yield* toStored(row!)
        const pending = yield* FiberRef.get(pendingEvents)
        if (pending === undefined) yield* publishAll([stored])
        else pending.push(stored)
        return stored
      }).pipe(Effect.withSpan("Events.append", { attributes: { event_type: event.event_type } }))

    /** A scoped queue of events committed by this instance from now on. */
    const subscribe = PubSub.subscribe(committed)

    const readAfter = (cursor: number, limit: number) =>
      sql<EventRow>`
        SELECT seq::text AS seq, id, event_type, timestamp, machine_id, data FROM events
        WHERE events.seq > ${cursor} ORDER BY events.seq LIMIT ${limit}`.pipe(Effect.flatMap(Effect.forEach(toStored)))

    /**
     * Runs a durable consumer in the background for the life of the scope.
     * Several instances may run the same consumer: a lease on its cursor row
     * lets exactly one of them process at a time.
     */
    const consume = <E, R>(options: ConsumerOptions<E, R>): Effect.Effect<void, never, R | Scope.Scope> =>
      Effect.gen(function* () {
        const batchSize = options.batchSize ?? 100
        const poll = Duration.decode(options.pollInterval ?? "2 seconds")
        const leaseSeconds = Duration.toSeconds(options.leaseDuration ?? "30 seconds")
        const wake = yield* subscribe

        const start = options.startAt === "beginning" ? sql`0` : sql`(SELECT COALESCE(MAX(seq), 0) FROM events)`
        yield* sql`INSERT INTO event_consumers (name, cursor) VALUES (${options.name}, ${start})
          ON CONFLICT (name) DO NOTHING`

        const claim = sql<{ cursor: string }>`
          UPDATE event_consumers
          SET lease_owner = ${instanceId}, lease_until = now() + make_interval(secs => ${leaseSeconds}), updated_at = now()
          WHERE name = ${options.name}
            AND (lease_owner IS NULL OR lease_owner = ${instanceId} OR lease_until < now())
          RETURNING cursor::text AS cursor`.pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => Number(r.cursor))))

        const advance = (to: number) =>
          sql`UPDATE event_consumers SET cursor = ${to}, updated_at = now()
              WHERE name = ${options.name} AND lease_owner = ${instanceId}`

        const waitForWork = Queue.take(wake).pipe(
          Effect.zipRight(Queue.takeAll(wake)),
          Effect.timeout(poll),
          Effect.ignore
        )

        /** One pass: returns true when a full batch was handled (more may be waiting). */
        const step = Effect.gen(function* () {
          const cursor = yield* claim
          if (Option.isNone(cursor)) return false
          const batch = yield* readAfter(cursor.value, batchSize)
          if (batch.length === 0) return false
          yield* options.handle(batch)
          yield* advance(batch[batch.length - 1]!.seq)
          return batch.length === batchSize
        })

        const loop = step.pipe(
          Effect.tapErrorCause((cause) =>
            Effect.logWarning(`event consumer ${options.name} failed; retrying`, cause)
          ),
          Effect.retry(Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("10 seconds")))),
          Effect.flatMap((more) => (more ? Effect.void : waitForWork)),
          Effect.forever
        )
        yield* Effect.forkScoped(loop)
      }).pipe(Effect.orDie)

    return { transaction, append, subscribe, consume, readAfter } as const
  })
}) {}
