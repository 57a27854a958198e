/**
 * The transactional outbox and its readers.
 *
 * A domain change writes its event row in the same transaction as the change
 * (`Events.transaction` + `Events.append`). After the commit, in-process
 * subscribers are woken; durable consumers read the `events` table from their
 * own cursor, so a crash between commit and delivery loses nothing.
 *
 * Ordering without a lock: writers append concurrently, so events do not
 * commit in `seq` order. Each row records its transaction's id (`txid`,
 * xid8); a durable consumer keeps its position as (txid, seq) and reads only
 * rows whose txid is below the horizon `pg_snapshot_xmin(pg_current_snapshot())`,
 * below which every transaction has ended. A transaction still open holds a
 * txid at or above the horizon, so its rows are read once it commits, never
 * skipped. Delivery order is (txid, seq): transaction-id order (when each
 * writer first wrote), not commit order; within one transaction, seq order.
 *
 * Every appended event is checked against the EventCatalog: an undeclared type
 * or a payload that does not match its declaration is a programming error
 * (a defect), caught by the tests of the code that appends it.
 */
import { SqlClient } from "@effect/sql"
import { Data, DateTime, Duration, Effect, Exit, FiberRef, Option, ParseResult, PubSub, Queue, Schedule, Schema, Scope } from "effect"
import * as crypto from "node:crypto"
import { DomainEvent, StoredEvent } from "./Event.js"
import { EventCatalog } from "./EventCatalog.js"
import { describeCause } from "./describeCause.js"
import { traced } from "../observability/traced.js"

/** Events appended by the current transaction, published once it commits. */
const pendingEvents = FiberRef.unsafeMake<Array<StoredEvent> | undefined>(undefined)

interface EventRow {
  readonly txid?: string
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

/**
 * The row an append just inserted, without decoding it again: its values were
 * checked on the way in (DomainEvent, the catalog) and come back from the
 * database as written. Decoding it cost a schema parse per audited request.
 */
const insertedEvent = (row: EventRow) =>
  new StoredEvent(
    {
      seq: Number(row.seq),
      id: row.id,
      event_type: row.event_type,
      timestamp: DateTime.unsafeFromDate(row.timestamp),
      ...(row.machine_id === null ? {} : { machine_id: row.machine_id }),
      data: (typeof row.data === "string" ? JSON.parse(row.data) : row.data) as Record<string, unknown>
    },
    true
  )

/**
 * Where a payload differs from its declaration: paths and kinds only, never
 * the values (the message ends up in logs).
 */
const mismatchSummary = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => {
      const path = issue.path.length === 0 ? "data" : `data.${issue.path.join(".")}`
      switch (issue._tag) {
        case "Unexpected":
          return `${path} is not declared`
        case "Missing":
          return `${path} is missing`
        default:
          return `${path} does not match the declared schema`
      }
    })
    .join("; ")

export interface ConsumerOptions<E, R> {
  /** Unique and stable: the cursor, stop state and dead letters are stored under this name. */
  readonly name: string
  /** Where a consumer seen for the first time starts: only new events (default) or all history. */
  readonly startAt?: "end" | "beginning"
  /** How many events one read fetches (default 100). */
  readonly batchSize?: number
  /** How often to look for events committed by other instances (default 2 s). */
  readonly pollInterval?: Duration.DurationInput
  /** How long a claim on the cursor lasts before another instance may take over (default 30 s). */
  readonly leaseDuration?: Duration.DurationInput
  /** Attempts per event before it goes to the dead-letter table and the cursor moves on (default 5). */
  readonly maxAttempts?: number
  /** Wait before the second attempt; doubled for each further one (default 200 ms). */
  readonly retryDelay?: Duration.DurationInput
  /** Upper bound of that wait (default 10 s; keep it below the lease). */
  readonly maxRetryDelay?: Duration.DurationInput
  /**
   * Called with each event, in order; the cursor passes the event only after
   * it succeeds or is dead-lettered (at-least-once: make it idempotent).
   */
  readonly handle: (event: StoredEvent) => Effect.Effect<void, E, R>
}

export class ConsumerStatus extends Schema.Class<ConsumerStatus>("ConsumerStatus")({
  name: Schema.String,
  /** The seq of the last event handled or dead-lettered. */
  cursor: Schema.Number,
  /** Events committed after the cursor. */
  lag: Schema.Number,
  /** False after a stop, on every instance, until a start. */
  running: Schema.Boolean,
  stopped_at: Schema.NullOr(Schema.String),
  stopped_by: Schema.NullOr(Schema.String),
  /** True while an instance holds the lease (is processing or polling). */
  active: Schema.Boolean,
  /** Dead letters not (yet) replayed successfully. */
  dead_letters: Schema.Number
}) {}

/** Returned by `consume`: control of the consumer on every instance (the state is in the database). */
export interface ConsumerHandle {
  readonly name: string
  /** Stops processing on every instance after the event in hand; survives restarts. */
  readonly stop: Effect.Effect<void>
  readonly start: Effect.Effect<void>
  readonly status: Effect.Effect<ConsumerStatus>
}

interface ConsumerRow {
  readonly name: string
  readonly cursor: string
  readonly lag: string
  readonly stopped_at: Date | null
  readonly stopped_by: string | null
  readonly active: boolean
  readonly dead_letters: string
}

const toStatus = (row: ConsumerRow) =>
  new ConsumerStatus({
    name: row.name,
    cursor: Number(row.cursor),
    lag: Number(row.lag),
    running: row.stopped_at === null,
    stopped_at: row.stopped_at?.toISOString() ?? null,
    stopped_by: row.stopped_by,
    active: row.active,
    dead_letters: Number(row.dead_letters)
  })

/**
 * A durable consumer's position in the outbox: the (txid, seq) of the last
 * event it handled; txid is an xid8 as text (it exceeds 2^53).
 */
export interface Position {
  readonly txid: string
  readonly seq: number
}

const samePosition = (a: Position, b: Position) => a.txid === b.txid && a.seq === b.seq

/** Consumer names: stable identifiers, e.g. `webhooks.delivery` (also a path parameter of the consumer endpoints). */
export const CONSUMER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/

/** The lease was lost while a dead letter was being written: roll it back, another instance has the event. */
class LostLease extends Data.TaggedError("LostLease") {}

export class Events extends Effect.Service<Events>()("@itl-attestation/core/Events", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const catalog = yield* EventCatalog
    const committed = yield* PubSub.unbounded<StoredEvent>()
    const instanceId = crypto.randomUUID()
    /** Wakes this instance's loop of a consumer, e.g. for a replay just requested. */
    const nudges = new Map<string, Queue.Queue<void>>()
    const wakeConsumer = (name: string) => {
      const queue = nudges.get(name)
      return queue === undefined ? Effect.void : Queue.offer(queue, undefined).pipe(Effect.asVoid)
    }

    const publishAll = (events: ReadonlyArray<StoredEvent>) =>
      events.length === 0 ? Effect.void : PubSub.publishAll(committed, events)

    /**
     * Runs `effect` in one SQL transaction; events it appends are published
     * to in-process subscribers only after the commit. No lock: concurrent
     * transactions append concurrently (see the ordering note above).
     */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        const outer = yield* FiberRef.get(pendingEvents)
        if (outer !== undefined) return yield* effect // already inside: the outer commit publishes
        const pending: Array<StoredEvent> = []
        // Uninterruptible: when a client disconnects mid-request the handler's
        // fiber is interrupted, and @effect/sql-pg would cancel the running
        // statement through the same pool, waiting out its 5 s timeout when
        // the pool is busy (found by the registration bench). A short
        // transaction that always runs to its commit or rollback is the
        // better trade.
        const result = yield* Effect.uninterruptible(
          sql.withTransaction(effect.pipe(Effect.locally(pendingEvents, pending)))
        )
        yield* publishAll(pending)
        return result
      })

    /** Dies unless the event's type is declared and its data matches the declared payload exactly. */
    const checkDeclared = (event: DomainEvent) =>
      Effect.flatMap(catalog.get(event.event_type), (entry) => {
        if (entry === undefined) {
          return Effect.dieMessage(
            `event type ${event.event_type} is not declared in the event catalog: declare it with defineEvent in its owner's event list`
          )
        }
        return Schema.decodeUnknown(entry.definition.payload)(event.data, { onExcessProperty: "error", errors: "all" }).pipe(
          Effect.catchAll((error) =>
            Effect.dieMessage(
              `event ${event.event_type} (declared by ${entry.owner}) does not match its declared payload: ${mismatchSummary(error)}`
            )
          ),
          Effect.asVoid
        )
      })

    const append = (event: DomainEvent) =>
      Effect.gen(function* () {
        yield* checkDeclared(event)
        const [row] = yield* sql<EventRow>`
          INSERT INTO events (event_type, timestamp, machine_id, data)
          VALUES (${event.event_type}, ${DateTime.toDateUtc(event.timestamp)},
                  ${event.machine_id ?? null}, ${JSON.stringify(event.data)}::jsonb)
          RETURNING seq::text AS seq, id, event_type, timestamp, machine_id, data`
        const stored = insertedEvent(row!)
        const pending = yield* FiberRef.get(pendingEvents)
        if (pending === undefined) yield* publishAll([stored])
        else pending.push(stored)
        return stored
      }).pipe(traced("Events.append", { attributes: { event_type: event.event_type } }))

    /** A scoped queue of events committed by this instance from now on. */
    const subscribe = PubSub.subscribe(committed)

    /**
     * Up to `limit` events after `position`, in (txid, seq) order, only from
     * transactions below the horizon (all ended): a row of a transaction still
     * open is never passed over, it is read once that transaction commits.
     */
    const readAfter = (position: Position, limit: number) =>
      sql<EventRow>`
        SELECT txid::text AS txid, seq::text AS seq, id, event_type, timestamp, machine_id, data FROM events
        WHERE (events.txid, events.seq) > (${position.txid}::xid8, ${position.seq})
          AND events.txid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.txid, events.seq LIMIT ${limit}`.pipe(
        Effect.flatMap(Effect.forEach((row) => Effect.map(toStored(row), (event) => ({ event, position: { txid: row.txid!, seq: event.seq } }))))
      )

    const readOne = (seq: number) =>
      sql<EventRow>`
        SELECT seq::text AS seq, id, event_type, timestamp, machine_id, data FROM events WHERE events.seq = ${seq}`.pipe(
        Effect.flatMap((rows) => (rows[0] === undefined ? Effect.succeed(undefined) : toStored(rows[0])))
      )

    /** Every durable consumer known to the database, running or not, on any instance. */
    const consumers = (name?: string) =>
      sql<ConsumerRow>`
        SELECT c.name, c.cursor::text AS cursor,
               (SELECT count(*) FROM events e WHERE (e.txid, e.seq) > (c.cursor_txid, c.cursor))::text AS lag,
               c.stopped_at, c.stopped_by,
               (c.lease_owner IS NOT NULL AND c.lease_until > now()) AS active,
               (SELECT count(*) FROM event_dead_letters d WHERE d.consumer = c.name AND d.replayed_at IS NULL)::text AS dead_letters
        FROM event_consumers c
        ${name === undefined ? sql`` : sql`WHERE c.name = ${name}`}
        ORDER BY c.name`.pipe(Effect.flatMap(Effect.forEach((row) => Effect.succeed(toStatus(row)))))

    /** Stops (`by` = who) or starts (`by` = null) a consumer everywhere; false when no such consumer. */
    const setStopped = (name: string, by: string | null) =>
      sql<{ name: string }>`
        UPDATE event_consumers
        SET stopped_at = ${by === null ? null : sql`now()`}, stopped_by = ${by}, updated_at = now()
        WHERE name = ${name} RETURNING name`.pipe(Effect.map((rows) => rows.length > 0))

    /**
     * Runs a durable consumer in the background for the life of the scope.
     * Several instances may run the same consumer: a lease on its cursor row
     * lets exactly one of them process at a time. Each event is retried with
     * exponential backoff; after `maxAttempts` failures it is written to
     * `event_dead_letters` and the cursor moves past it, so one poison event
     * cannot block the consumer. Replays requested by an operator
     * (`replay_requested_at`) are run by whichever instance holds the lease.
     */
    const consume = <E, R>(options: ConsumerOptions<E, R>): Effect.Effect<ConsumerHandle, never, R | Scope.Scope> =>
      Effect.gen(function* () {
        const name = options.name
        if (!CONSUMER_NAME_PATTERN.test(name)) {
          return yield* Effect.dieMessage(`event consumer name ${JSON.stringify(name)} is malformed: letters, digits and _ . : - (at most 200)`)
        }
        const batchSize = options.batchSize ?? 100
        const maxAttempts = Math.max(1, options.maxAttempts ?? 5)
        const retryDelay = Duration.decode(options.retryDelay ?? "200 millis")
        const maxRetryDelay = Duration.decode(options.maxRetryDelay ?? "10 seconds")
        const poll = Duration.decode(options.pollInterval ?? "2 seconds")
        const leaseSeconds = Duration.toSeconds(options.leaseDuration ?? "30 seconds")
        // Two loops of one name in one instance would share its lease and process the same events concurrently.
        if (nudges.has(name)) return yield* Effect.dieMessage(`event consumer ${name} is already running in this instance`)
        const wake = yield* subscribe
        const nudge = yield* Queue.sliding<void>(1)
        nudges.set(name, nudge)
        yield* Effect.addFinalizer(() => Effect.sync(() => nudges.get(name) === nudge && nudges.delete(name)))

        // "end": after the last event of the transactions already ended; events of
        // transactions still open are delivered (they commit after this start).
        yield* options.startAt === "beginning"
          ? sql`INSERT INTO event_consumers (name, cursor, cursor_txid) VALUES (${name}, 0, '0'::xid8)
              ON CONFLICT (name) DO NOTHING`
          : sql`INSERT INTO event_consumers (name, cursor, cursor_txid)
              SELECT ${name}, COALESCE(last.seq, 0), COALESCE(last.txid, '0'::xid8)
              FROM (SELECT 1) one LEFT JOIN LATERAL (
                SELECT seq, txid FROM events WHERE txid < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY txid DESC, seq DESC LIMIT 1) last ON true
              ON CONFLICT (name) DO NOTHING`

        /** Takes or renews the lease; None when stopped or another instance holds it. */
        const claim = sql<{ cursor: string; cursor_txid: string }>`
          UPDATE event_consumers
          SET lease_owner = ${instanceId}, lease_until = now() + make_interval(secs => ${leaseSeconds}), updated_at = now()
          WHERE name = ${name} AND stopped_at IS NULL
            AND (lease_owner IS NULL OR lease_owner = ${instanceId} OR lease_until < now())
          RETURNING cursor::text AS cursor, cursor_txid::text AS cursor_txid`.pipe(
            Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r): Position => ({ txid: r.cursor_txid, seq: Number(r.cursor) })))
          )

        /** Moves the cursor to `to` (an event's position) and renews the lease; false when the lease was lost. */
        const advance = (to: Position) =>
          sql<{ name: string }>`UPDATE event_consumers
              SET cursor = ${to.seq}, cursor_txid = ${to.txid}::xid8,
                  lease_until = now() + make_interval(secs => ${leaseSeconds}), updated_at = now()
              WHERE name = ${name} AND lease_owner = ${instanceId} AND (cursor_txid, cursor) < (${to.txid}::xid8, ${to.seq})
              RETURNING name`.pipe(Effect.map((rows) => rows.length > 0))

        const deadLetter = (event: StoredEvent, at: Position, attempts: number, lastError: string) =>
          sql
            .withTransaction(
              Effect.gen(function* () {
                yield* sql`INSERT INTO event_dead_letters (consumer, event_seq, event_id, event_type, attempts, last_error)
                  VALUES (${name}, ${event.seq}, ${event.id}, ${event.event_type}, ${attempts}, ${lastError})
                  ON CONFLICT (consumer, event_seq) DO NOTHING`
                if (!(yield* advance(at))) return yield* new LostLease()
              })
            )
            .pipe(
              Effect.zipRight(
                Effect.logError(
                  `event consumer ${name}: event ${event.seq} (${event.event_type}) failed ${attempts} times and was dead-lettered: ${lastError}`
                )
              ),
              Effect.as(true),
              Effect.catchTag("LostLease", () => Effect.succeed(false))
            )

        const backoff = (attempt: number) =>
          Duration.min(Duration.times(retryDelay, 2 ** (attempt - 1)), maxRetryDelay)

        /** Handles one event to its end: true when the cursor passed it, false when this instance must stop (stopped, lease lost). */
        const deliver = (event: StoredEvent, at: Position, cursorBefore: Position) =>
          Effect.gen(function* () {
            for (let attempt = 1; ; attempt++) {
              const exit = yield* Effect.exit(options.handle(event))
              if (Exit.isSuccess(exit)) return yield* advance(at)
              const error = describeCause(exit.cause)
              if (attempt >= maxAttempts) return yield* deadLetter(event, at, attempt, error)
              yield* Effect.logWarning(
                `event consumer ${name}: event ${event.seq} (${event.event_type}) failed (attempt ${attempt} of ${maxAttempts}); retrying: ${error}`
              )
              yield* Effect.sleep(backoff(attempt))
              // Still ours, not stopped, and nobody moved the cursor meanwhile.
              const still = yield* claim
              if (Option.isNone(still) || !samePosition(still.value, cursorBefore)) return false
            }
          })

        /** Operator-requested replays of this consumer's dead letters: one attempt each, outcome on the row. */
        const runReplays = Effect.gen(function* () {
          const requested = yield* sql<{ id: string; event_seq: string }>`
            SELECT id, event_seq::text AS event_seq FROM event_dead_letters
            WHERE consumer = ${name} AND replay_requested_at IS NOT NULL ORDER BY event_seq`
          for (const letter of requested) {
            const event = yield* readOne(Number(letter.event_seq))
            const exit: Exit.Exit<void, unknown> = event === undefined
              ? Exit.fail("the event is no longer in the outbox")
              : yield* Effect.exit(options.handle(event))
            if (Exit.isSuccess(exit)) {
              yield* sql`UPDATE event_dead_letters
                SET replay_requested_at = NULL, replayed_at = now(), replay_error = NULL, attempts = attempts + 1
                WHERE id = ${letter.id}`
            } else {
              const error = describeCause(exit.cause)
              yield* sql`UPDATE event_dead_letters
                SET replay_requested_at = NULL, replay_failed_at = now(), replay_error = ${error}, last_error = ${error},
                    attempts = attempts + 1
                WHERE id = ${letter.id}`
            }
          }
        })

        const waitForWork = Effect.raceFirst(
          Queue.take(wake).pipe(Effect.zipRight(Queue.takeAll(wake))),
          Queue.take(nudge)
        ).pipe(Effect.timeout(poll), Effect.ignore)

        /** One pass: returns true when a full batch was handled (more may be waiting). */
        const step = Effect.gen(function* () {
          const cursor = yield* claim
          if (Option.isNone(cursor)) return false
          yield* runReplays
          const batch = yield* readAfter(cursor.value, batchSize)
          let at = cursor.value
          for (const { event, position } of batch) {
            if (!(yield* deliver(event, position, at))) return false
            at = position
          }
          return batch.length === batchSize
        })

        const loop = step.pipe(
          Effect.tapErrorCause((cause) => Effect.logWarning(`event consumer ${name} failed; retrying`, cause)),
          Effect.retry(Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("10 seconds")))),
          Effect.flatMap((more) => (more ? Effect.void : waitForWork)),
          Effect.forever
        )
        yield* Effect.forkScoped(loop)

        // Give the lease back on shutdown, so another instance takes over without waiting for it to expire.
        yield* Effect.addFinalizer(() =>
          sql`UPDATE event_consumers SET lease_owner = NULL, lease_until = NULL
              WHERE name = ${name} AND lease_owner = ${instanceId}`.pipe(Effect.ignore)
        )

        const handle: ConsumerHandle = {
          name,
          stop: setStopped(name, "application").pipe(Effect.asVoid, Effect.orDie),
          start: setStopped(name, null).pipe(Effect.zipRight(wakeConsumer(name)), Effect.asVoid, Effect.orDie),
          status: consumers(name).pipe(Effect.map((rows) => rows[0]!), Effect.orDie)
        }
        return handle
      }).pipe(Effect.orDie)

    return { transaction, append, subscribe, consume, readAfter, consumers, setStopped, wakeConsumer, catalog } as const
  }),
  dependencies: [EventCatalog.Default]
}) {}
