/**
 * The audit sealer: links rows written concurrently (unsealed: no chain
 * position, no hashes) into the HMAC chain, the way transparency logs
 * sequence entries before integrating them.
 *
 * One pass is one transaction: renew the sealer lease (one sealer at a time
 * across instances; the lease row also stays locked until the commit), take
 * the last sealed row, select up to BATCH unsealed rows of transactions below
 * the horizon (every transaction with a smaller id has ended, so no row can
 * still appear before them), ordered by (txid, id), give them consecutive
 * chain positions and their hashes, commit. A sealer that dies mid-pass rolls
 * back: nothing is half-sealed, and the next pass (here or on another
 * instance once the lease expires) starts from the last sealed row.
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Schema } from "effect"
import { Int8, Timestamp } from "../db/columns.js"
import type { SealedAuditEntry } from "./AuditFeed.js"
import { chainHash, GENESIS_HASH } from "./chain.js"
import { traced } from "../observability/traced.js"

/** Rows sealed per transaction: keeps each pass short (row locks, the embedded database's single connection). */
export const SEAL_BATCH = 500

/** How long a sealer's lease lasts without renewal before another instance may seal. */
export const SEAL_LEASE_SECONDS = 5

const Unsealed = Schema.Struct({
  id: Int8,
  at: Timestamp,
  actor: Schema.String,
  actor_kind: Schema.String,
  action: Schema.String,
  target_type: Schema.String,
  target_id: Schema.NullOr(Schema.String),
  details: Schema.Unknown
})
const decodeUnsealed = Schema.decodeUnknown(Schema.Array(Unsealed))

const NOTHING_SEALED: ReadonlyArray<SealedAuditEntry> = []

/**
 * One sealing pass by `owner` (an instance id); the entries it sealed, in
 * chain order (none when there was nothing to seal or another instance holds
 * the lease).
 */
export const sealPass = (key: Buffer, owner: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [waiting] = yield* sql<{ pending: boolean }>`
      SELECT EXISTS (SELECT 1 FROM audit_log WHERE chain_seq IS NULL) AS pending`
    if (waiting?.pending !== true) return NOTHING_SEALED
    return yield* sql.withTransaction(
      Effect.gen(function* () {
        // First statement, before this transaction has an id of its own.
        const [snapshot] = yield* sql<{ horizon: string }>`
          SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon`
        const horizon = snapshot!.horizon
        const lease = yield* sql`
          UPDATE audit_sealer
          SET lease_owner = ${owner}, lease_until = now() + make_interval(secs => ${SEAL_LEASE_SECONDS})
          WHERE singleton AND (lease_owner IS NULL OR lease_owner = ${owner} OR lease_until < now())
          RETURNING lease_owner`
        if (lease.length === 0) return NOTHING_SEALED
        const [last] = yield* sql<{ chain_seq: string; hash: string }>`
          SELECT chain_seq::text AS chain_seq, hash FROM audit_log
          WHERE chain_seq IS NOT NULL ORDER BY audit_log.chain_seq DESC LIMIT 1`
        const rows = yield* decodeUnsealed(
          yield* sql`
            SELECT id::text AS id, at, actor, actor_kind, action, target_type, target_id, details FROM audit_log
            WHERE chain_seq IS NULL AND txid < ${horizon}::xid8
            ORDER BY txid, id LIMIT ${SEAL_BATCH} FOR UPDATE`
        )
        if (rows.length === 0) return NOTHING_SEALED
        let position = last === undefined ? 0 : Number(last.chain_seq)
        let prevHash = last?.hash ?? GENESIS_HASH
        const sealed = rows.map((row) => {
          position++
          const details = typeof row.details === "string" ? JSON.parse(row.details) : row.details
          const hash = chainHash(key, prevHash, { ...row, id: position, at: DateTime.formatIso(row.at), details })
          const link = { id: row.id, chain_seq: position, prev_hash: prevHash, hash }
          prevHash = hash
          return link
        })
        yield* sql`
          UPDATE audit_log a SET chain_seq = v.chain_seq, prev_hash = v.prev_hash, hash = v.hash
          FROM jsonb_to_recordset(${JSON.stringify(sealed)}::jsonb) AS v(id bigint, chain_seq bigint, prev_hash text, hash text)
          WHERE a.id = v.id`
        return rows.map(
          (row, index): SealedAuditEntry => ({
            chainSeq: sealed[index]!.chain_seq,
            action: row.action,
            targetType: row.target_type,
            actorKind: row.actor_kind
          })
        )
      })
    )
  }).pipe(traced("AuditSealer.pass"))

/** Gives the lease back (shutdown), so another instance seals at once instead of after it expires. */
export const releaseSealLease = (owner: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`UPDATE audit_sealer SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ${owner}`
  ).pipe(Effect.ignore)
