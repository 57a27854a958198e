/**
 * The append-only, HMAC-chained audit log. Appends happen inside the caller's
 * journaled transaction (see Events.transaction), which serialises them, so
 * each row can take the previous row's hash and id + 1.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { DateTime, Effect, Option, Schema } from "effect"
import { authorized } from "../authorization/Authorized.js"
import { AuditRead } from "../authorization/coreScopes.js"
import { Int8, jsonb, Timestamp } from "../db/columns.js"
import { rowDefect } from "../db/rowDefect.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { JOURNAL_LOCK_KEY } from "../events/Events.js"
import { loadDataKey } from "../keyring/DataKeys.js"
import { type Actor, ActorKind, AuditEntry, AuditPage, AuditVerification } from "./AuditEntry.js"
import { chainHash, GENESIS_HASH } from "./chain.js"

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
  at: Timestamp,
  actor: Schema.String,
  actor_kind: ActorKind,
  action: Schema.String,
  target_type: Schema.String,
  target_id: Schema.NullOr(Schema.String),
  details: jsonb(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  prev_hash: Schema.String,
  hash: Schema.String
})

const toEntry = (row: typeof AuditRow.Type) => new AuditEntry(row)

/**
 * A row as the chain check reads it: only the column types are assumed, so a
 * row whose content was tampered with (any actor kind, any details) is
 * reported as the first invalid one rather than failing to decode.
 */
const ChainRow = Schema.Struct({
  ...AuditRow.fields,
  actor_kind: Schema.String,
  details: Schema.Unknown
})

const LastLink = Schema.Struct({ id: Int8, hash: Schema.String })
const Total = Schema.Struct({ total: Schema.Number })

const VERIFY_BATCH = 1000

export class AuditLog extends Effect.Service<AuditLog>()("@itl-attestation/core/AuditLog", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const key = yield* loadDataKey("audit_chain")

    /** The newest row's id and hash: the next row links to them. */
    const lastLink = SqlSchema.findOne({
      Request: Schema.Void,
      Result: LastLink,
      execute: () => sql`SELECT id::text AS id, hash FROM audit_log ORDER BY audit_log.id DESC LIMIT 1`
    })

    const batchFrom = SqlSchema.findAll({
      Request: Schema.Number,
      Result: ChainRow,
      execute: (fromId) => sql`SELECT * FROM audit_log WHERE id >= ${fromId} ORDER BY id LIMIT ${VERIFY_BATCH}`
    })

    const countAll = SqlSchema.single({
      Request: Schema.Void,
      Result: Total,
      execute: () => sql`SELECT count(*)::int AS total FROM audit_log`
    })

    const append = (actor: Actor, record: AuditRecord) =>
      Effect.gen(function* () {
        // Re-entrant inside Events.transaction; makes a stray append outside one safe too.
        yield* sql`SELECT pg_advisory_xact_lock(${JOURNAL_LOCK_KEY})`
        const last = Option.getOrUndefined(yield* lastLink(undefined))
        const content = {
          id: last === undefined ? 1 : last.id + 1,
          at: new Date().toISOString(),
          actor: actor.name,
          actor_kind: actor.kind,
          action: record.action,
          target_type: record.targetType,
          target_id: record.targetId,
          details: record.details ?? {}
        }
        const prevHash = last?.hash ?? GENESIS_HASH
        const hash = chainHash(key, prevHash, content)
        yield* sql`INSERT INTO audit_log (id, at, actor, actor_kind, action, target_type, target_id, details, prev_hash, hash)
          VALUES (${content.id}, ${new Date(content.at)}, ${content.actor}, ${content.actor_kind}, ${content.action},
                  ${content.target_type}, ${content.target_id}, ${JSON.stringify(content.details)}::jsonb,
                  ${prevHash}, ${hash})`
      }).pipe(rowDefect, Effect.withSpan("AuditLog.append", { attributes: { action: record.action } }))

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
          execute: () => sql`SELECT * FROM audit_log WHERE ${where} ORDER BY id DESC LIMIT ${filter.limit} OFFSET ${filter.offset}`
        })(undefined)
        return new AuditPage({ entries: rows.map(toEntry), total, limit: filter.limit, offset: filter.offset })
      }).pipe(rowDefect, sqlDefect, Effect.withSpan("AuditLog.list"))

    /** Walks the whole chain in id order; reports the first row whose link or hash does not hold. */
    const verify = Effect.gen(function* () {
      yield* authorized(AuditRead)
      let prevHash = GENESIS_HASH
      let expectedId = 1
      let entries = 0
      let firstInvalid = Option.none<number>()
      while (Option.isNone(firstInvalid)) {
        const rows = yield* batchFrom(expectedId)
        for (const row of rows) {
          const entry = { ...row, at: DateTime.formatIso(row.at) }
          entries++
          const intact =
            entry.id === expectedId &&
            entry.prev_hash === prevHash &&
            chainHash(key, prevHash, entry) === entry.hash
          if (!intact) {
            firstInvalid = Option.some(entry.id === expectedId ? entry.id : expectedId)
            break
          }
          prevHash = entry.hash
          expectedId++
        }
        if (rows.length < VERIFY_BATCH) break
      }
      if (Option.isSome(firstInvalid)) {
        entries = (yield* countAll(undefined)).total
      }
      return new AuditVerification({
        valid: Option.isNone(firstInvalid),
        entries,
        first_invalid_id: Option.getOrNull(firstInvalid)
      })
    }).pipe(rowDefect, sqlDefect, Effect.withSpan("AuditLog.verify"))

    return { append, list, verify } as const
  })
}) {}
