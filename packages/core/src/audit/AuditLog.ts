/**
 * The append-only, HMAC-chained audit log. Appends happen inside the caller's
 * transaction, concurrently and without a lock: a row is written unsealed
 * (no chain position, no hashes) and commits with the change it records. A
 * background sealer in every instance (AuditSealer.ts; one at a time across
 * instances, by lease) links committed rows into the chain within about a
 * quarter of a second; `verify` checks every sealed row and counts the
 * pending ones.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Cause, DateTime, Duration, Effect, Option, Queue, Schedule, Schema } from "effect"
import * as crypto from "node:crypto"
import { authorized } from "../authorization/Authorized.js"
import { AuditRead } from "../authorization/coreScopes.js"
import { Int8, jsonb, Timestamp } from "../db/columns.js"
import { rowDefect } from "../db/rowDefect.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { loadDataKey } from "../keyring/DataKeys.js"
import { type Actor, ActorKind, AuditEntry, AuditPage, AuditVerification } from "./AuditEntry.js"
import { AuditFeed } from "./AuditFeed.js"
import { releaseSealLease, SEAL_BATCH, sealPass } from "./AuditSealer.js"
import { chainHash, GENESIS_HASH } from "./chain.js"
import { traced } from "../observability/traced.js"

export interface AuditRecord {
  readonly action: string
  readonly targetType: string
  readonly targetId: string | null
  /** Never a secret value. */
  readonly details?: Record<string, unknown>
}

export interface AuditFilter {
  readonly actor?: string | undefined
  readonly action?: string | undefined
  readonly target_type?: string | undefined
  readonly target_id?: string | undefined
  readonly since?: Date | undefined
  readonly until?: Date | undefined
  readonly limit: number
  readonly offset: number
}

/** A row of `audit_log` as the driver hands it over (bigint id as text, timestamptz as a Date), decoded into an entry. */
const AuditRow = Schema.Struct({
  id: Int8,
  chain_seq: Schema.NullOr(Int8),
  at: Timestamp,
  actor: Schema.String,
  actor_kind: ActorKind,
  action: Schema.String,
  target_type: Schema.String,
  target_id: Schema.NullOr(Schema.String),
  details: jsonb(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  prev_hash: Schema.NullOr(Schema.String),
  hash: Schema.NullOr(Schema.String)
})

const toEntry = (row: typeof AuditRow.Type) => new AuditEntry(row)

/**
 * A row as the chain check reads it: only the column types are assumed, so a
 * row whose content was tampered with (any actor kind, any details) is
 * reported as the first invalid one rather than failing to decode.
 */
const ChainRow = Schema.Struct({
  ...AuditRow.fields,
  chain_seq: Int8,
  prev_hash: Schema.String,
  hash: Schema.String,
  actor_kind: Schema.String,
  details: Schema.Unknown
})

const Total = Schema.Struct({ total: Schema.Number })
const Counts = Schema.Struct({ sealed: Schema.Number, pending: Schema.Number })

/** How often each instance looks for rows to seal (other instances' appends wake nobody here). */
const SEAL_INTERVAL = Duration.millis(250)

/**
 * The least pause after a pass that emptied the queue, even when a local
 * append wakes the sealer sooner. Without it, under load every append woke a
 * pass of eight statements for a row or two, on the same connection pool as
 * the requests; with it, one pass takes the rows of every request of the last
 * tenth of a second. A pass that filled its batch goes on at once.
 */
const SEAL_GAP = Duration.millis(100)

/** Pauses after failed sealing passes (an outage): 500 ms, doubling, at most 10 s; reset by a good pass. */
const SEAL_RETRY = Schedule.exponential("500 millis").pipe(Schedule.union(Schedule.spaced("10 seconds")))

const VERIFY_BATCH = 1000

export class AuditLog extends Effect.Service<AuditLog>()("@itl-attestation/core/AuditLog", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const key = yield* loadDataKey("audit_chain")
    const feed = yield* AuditFeed
    const sealerId = crypto.randomUUID()
    /** Wakes this instance's sealer after a local append. */
    const wake = yield* Queue.sliding<void>(1)

    const batchFrom = SqlSchema.findAll({
      Request: Schema.Number,
      Result: ChainRow,
      execute: (fromSeq) =>
        sql`SELECT * FROM audit_log WHERE chain_seq >= ${fromSeq} ORDER BY chain_seq LIMIT ${VERIFY_BATCH}`
    })

    const counts = SqlSchema.single({
      Request: Schema.Void,
      Result: Counts,
      execute: () => sql`SELECT count(chain_seq)::int AS sealed, (count(*) - count(chain_seq))::int AS pending FROM audit_log`
    })

    // Seals until the scope closes. A failed pass (database gone, this
    // connection killed: an error or a defect of the driver — sandboxed, so a
    // defect cannot end the fiber) has rolled back; it is logged and retried.
    const sealing = sealPass(key, sealerId).pipe(
      Effect.tap(feed.notifySealed),
      Effect.flatMap((sealed) =>
        sealed.length >= SEAL_BATCH
          ? Effect.void
          : Effect.zipRight(Effect.sleep(SEAL_GAP), Queue.take(wake).pipe(Effect.timeout(SEAL_INTERVAL), Effect.ignore))
      ),
      Effect.sandbox,
      Effect.tapError((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logWarning("audit sealer pass failed; retrying", cause)
      ),
      Effect.retry({ schedule: SEAL_RETRY, while: (cause) => !Cause.isInterruptedOnly(cause) }),
      Effect.forever
    )
    yield* Effect.forkScoped(Effect.provideService(sealing, SqlClient.SqlClient, sql))
    yield* Effect.addFinalizer(() => Effect.provideService(releaseSealLease(sealerId), SqlClient.SqlClient, sql))

    /**
     * Writes the row unsealed, in the caller's transaction; no lock, no read
     * of other rows. Its chain position and hashes are set by the sealer once
     * its transaction has committed (see AuditSealer.ts).
     */
    const append = (actor: Actor, record: AuditRecord) =>
      Effect.gen(function* () {
        yield* sql`INSERT INTO audit_log (at, actor, actor_kind, action, target_type, target_id, details)
          VALUES (${new Date()}, ${actor.name}, ${actor.kind}, ${record.action},
                  ${record.targetType}, ${record.targetId}, ${JSON.stringify(record.details ?? {})}::jsonb)`
        yield* Queue.offer(wake, undefined)
      }).pipe(traced("AuditLog.append", { attributes: { action: record.action } }))

    /** Needs `audit:read`, like `verify`. */
    const list = (filter: AuditFilter) =>
      Effect.gen(function* () {
        yield* authorized(AuditRead)
        const conditions = [
          filter.actor === undefined ? undefined : sql`actor = ${filter.actor}`,
          filter.action === undefined ? undefined : sql`action = ${filter.action}`,
          filter.target_type === undefined ? undefined : sql`target_type = ${filter.target_type}`,
          filter.target_id === undefined ? undefined : sql`target_id = ${filter.target_id}`,
          filter.since === undefined ? undefined : sql`at >= ${filter.since}`,
          filter.until === undefined ? undefined : sql`at < ${filter.until}`
        ].filter((c) => c !== undefined)
        const where = sql.and(conditions)
        const { total } = yield* SqlSchema.single({
          Request: Schema.Void,
          Result: Total,
          execute: () => sql`SELECT count(*)::int AS total FROM audit_log WHERE ${where}`
        })(undefined)
        const rows = yield* SqlSchema.findAll({
          Request: Schema.Void,
          Result: AuditRow,
          execute: () =>
            sql`SELECT * FROM audit_log WHERE ${where} ORDER BY id DESC LIMIT ${filter.limit} OFFSET ${filter.offset}`
        })(undefined)
        return new AuditPage({ entries: rows.map(toEntry), total, limit: filter.limit, offset: filter.offset })
      }).pipe(rowDefect, sqlDefect, traced("AuditLog.list"))

    /**
     * Walks the sealed chain in chain_seq order (1, 2, 3, … without a gap);
     * reports the first position whose link or hash does not hold. The
     * HMAC's "id" is the chain position. Pending rows are counted, not
     * checked: they have no hash yet.
     */
    const verify = Effect.gen(function* () {
      yield* authorized(AuditRead)
      let prevHash = GENESIS_HASH
      let expected = 1
      let walked = 0
      let firstInvalid = Option.none<number>()
      while (Option.isNone(firstInvalid)) {
        const rows = yield* batchFrom(expected)
        for (const row of rows) {
          const entry = { ...row, id: row.chain_seq, at: DateTime.formatIso(row.at) }
          const intact =
            row.chain_seq === expected &&
            entry.prev_hash === prevHash &&
            chainHash(key, prevHash, entry) === entry.hash
          if (!intact) {
            firstInvalid = Option.some(expected)
            break
          }
          walked++
          prevHash = entry.hash
          expected++
        }
        if (rows.length < VERIFY_BATCH) break
      }
      // Counted after the walk: a row sealed meanwhile was pending when the walk
      // passed, and is reported as pending, so entries = sealed + pending.
      const now = yield* counts(undefined)
      const total = now.sealed + now.pending
      const sealed = Option.isNone(firstInvalid) ? walked : now.sealed
      return new AuditVerification({
        valid: Option.isNone(firstInvalid),
        entries: total,
        first_invalid_id: Option.getOrNull(firstInvalid),
        sealed,
        pending: total - sealed
      })
    }).pipe(rowDefect, sqlDefect, traced("AuditLog.verify"))

    return { append, list, verify } as const
  })
}) {}
