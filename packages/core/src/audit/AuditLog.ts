/**
 * The append-only, HMAC-chained audit log. Appends happen inside the caller's
 * journaled transaction (see Events.transaction), which serialises them, so
 * each row can take the previous row's hash and id + 1.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { authorized } from "../authorization/Authorized.js"
import { AuditRead } from "../authorization/coreScopes.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { JOURNAL_LOCK_KEY } from "../events/Events.js"
import { loadDataKey } from "../keyring/DataKeys.js"
import { type Actor, AuditEntry, AuditPage, AuditVerification } from "./AuditEntry.js"
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

interface AuditRow {
  readonly id: string
  readonly at: Date
  readonly actor: string
  readonly actor_kind: "operator" | "machine" | "system"
  readonly action: string
  readonly target_type: string
  readonly target_id: string | null
  readonly details: Record<string, unknown>
  readonly prev_hash: string
  readonly hash: string
}

const toEntry = (row: AuditRow) =>
  new AuditEntry({ ...row, id: Number(row.id), at: row.at.toISOString() })

const VERIFY_BATCH = 1000

export class AuditLog extends Effect.Service<AuditLog>()("@itl-attestation/core/AuditLog", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const key = yield* loadDataKey("audit_chain")

    const append = (actor: Actor, record: AuditRecord) =>
      Effect.gen(function* () {
        // Re-entrant inside Events.transaction; makes a stray append outside one safe too.
        yield* sql`SELECT pg_advisory_xact_lock(${JOURNAL_LOCK_KEY})`
        const [last] = yield* sql<{ id: string; hash: string }>`
          SELECT id::text AS id, hash FROM audit_log ORDER BY audit_log.id DESC LIMIT 1`
        const content = {
          id: last === undefined ? 1 : Number(last.id) + 1,
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
      }).pipe(Effect.withSpan("AuditLog.append", { attributes: { action: record.action } }))

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
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM audit_log WHERE ${where}`
        const rows = yield* sql<AuditRow>`SELECT * FROM audit_log WHERE ${where}
          ORDER BY id DESC LIMIT ${filter.limit} OFFSET ${filter.offset}`
        return new AuditPage({ entries: rows.map(toEntry), total: count!.total, limit: filter.limit, offset: filter.offset })
      }).pipe(sqlDefect, Effect.withSpan("AuditLog.list"))

    /** Walks the whole chain in id order; reports the first row whose link or hash does not hold. */
    const verify = Effect.gen(function* () {
      yield* authorized(AuditRead)
      let prevHash = GENESIS_HASH
      let expectedId = 1
      let entries = 0
      let firstInvalid = Option.none<number>()
      while (Option.isNone(firstInvalid)) {
        const rows = yield* sql<AuditRow>`SELECT * FROM audit_log WHERE id >= ${expectedId}
          ORDER BY id LIMIT ${VERIFY_BATCH}`
        for (const row of rows) {
          const entry = toEntry(row)
          entries++
          const intact =
            entry.id === expectedId && entry.prev_hash === prevHash && chainHash(key, prevHash, entry) === entry.hash
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
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM audit_log`
        entries = count!.total
      }
      return new AuditVerification({
        valid: Option.isNone(firstInvalid),
        entries,
        first_invalid_id: Option.getOrNull(firstInvalid)
      })
    }).pipe(sqlDefect, Effect.withSpan("AuditLog.verify"))

    return { append, list, verify } as const
  })
}) {}
