/**
 * Moving everything the master key seals to the current master key, so that
 * ITL_MASTER_KEY_PREVIOUS can be dropped after a rotation.
 *
 * The core does not know which tables hold sealed values: every owner (the
 * core for its data keys, each extension for its own data) registers where its
 * sealed columns are and how the AAD of a row is made, and one rewrap walks
 * them all. It works in batches: each row is re-sealed in its own short UPDATE
 * that only applies while the row is still under the key it was read with, so
 * an interrupted run loses nothing and a second run finds nothing to do. The
 * caller (the CLI) calls it repeatedly, passing back the cursor, to show
 * progress; the cursor only lets a pass step over rows that do not open.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { AuditLog } from "../audit/AuditLog.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { Events } from "../events/Events.js"
import { BadRequest } from "../http/ApiError.js"
import { actorOf, authorized } from "../authorization/Authorized.js"
import { KeyringAdmin } from "../authorization/coreScopes.js"
import { dataKeyAad } from "./DataKeys.js"
import { Keyring } from "./Keyring.js"
import { DEFAULT_REWRAP_LIMIT, MAX_REWRAP_LIMIT } from "./rewrapLimits.js"
import { traced } from "../observability/traced.js"

/** Where one owner keeps values sealed with `Keyring.seal`, and how their AAD is made. */
export interface SealedTable {
  /** Who owns the data, for reports: `core`, or the extension's name. */
  readonly owner: string
  readonly table: string
  /** A unique, sortable text-comparable column (the primary key). */
  readonly id: string
  readonly keyId: string
  readonly nonce: string
  readonly ciphertext: string
  readonly tag: string
  /** The AAD the row was sealed with, from the row as stored. */
  readonly aad: (row: Record<string, unknown>) => string
}

export interface RewrapCursor {
  readonly table: string
  readonly after: string
}

export interface RewrapFailure {
  readonly table: string
  readonly id: string
  readonly reason: string
}

export interface RewrapPass {
  readonly key_id: string
  readonly rewrapped: number
  /** Rows that did not open (unknown key, or tampered); left untouched. */
  readonly failed: number
  readonly failures: ReadonlyArray<RewrapFailure>
  /** Where the next call continues; null when this call reached the end. */
  readonly cursor: RewrapCursor | null
  /** Rows under another key than the current one, per table, after this call. */
  readonly tables: ReadonlyArray<{ readonly owner: string; readonly table: string; readonly remaining: number }>
  readonly remaining: number
}

// Bounds of one call (rewrapLimits.ts): a call is one HTTP request, so it must end well within any proxy's timeout.
export { DEFAULT_REWRAP_LIMIT, MAX_REWRAP_LIMIT }
const FAILURES_REPORTED = 20

export class MasterKeyRewrap extends Effect.Service<MasterKeyRewrap>()("@itl-attestation/core/MasterKeyRewrap", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const keyring = yield* Keyring
    const audit = yield* AuditLog
    const events = yield* Events
    const tables: Array<SealedTable> = []

    /** Registers one owner's sealed table; registering the same table twice keeps the first. */
    const register = (table: SealedTable) =>
      Effect.sync(() => {
        if (!tables.some((t) => t.table === table.table)) tables.push(table)
      })

    const remainingIn = (t: SealedTable) =>
      Effect.map(
        sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(t.table)} WHERE ${sql(t.keyId)} <> ${keyring.currentKeyId}`,
        (rows) => rows[0]!.n
      )

    /** Re-seals one row under the current key; 1 when this call moved it, 0 when another run already had. */
    const rewrapRow = (t: SealedTable, row: Record<string, unknown>) =>
      Effect.gen(function* () {
        const aad = t.aad(row)
        const plaintext = yield* keyring.open(
          { keyId: String(row[t.keyId]), nonce: row[t.nonce] as Buffer, ciphertext: row[t.ciphertext] as Buffer, tag: row[t.tag] as Buffer },
          aad
        )
        const sealed = keyring.seal(plaintext, aad)
        plaintext.fill(0)
        const updated = yield* sql`UPDATE ${sql(t.table)} SET ${sql(t.keyId)} = ${sealed.keyId}, ${sql(t.nonce)} = ${sealed.nonce},
            ${sql(t.ciphertext)} = ${sealed.ciphertext}, ${sql(t.tag)} = ${sealed.tag}
          WHERE ${sql(t.id)} = ${row[t.id] as string} AND ${sql(t.keyId)} = ${row[t.keyId] as string} RETURNING 1`
        return updated.length
      })

    /** Up to `limit` rows, from `cursor` on; needs `keyring:admin`. */
    const run = (options: { readonly limit?: number | undefined; readonly cursor?: RewrapCursor | null | undefined }) =>
      Effect.gen(function* () {
        const operator = yield* authorized(KeyringAdmin)
        let budget = options.limit ?? DEFAULT_REWRAP_LIMIT
        const start = options.cursor ?? null
        let index = 0
        let after: string | null = null
        if (start !== null) {
          index = tables.findIndex((t) => t.table === start.table)
          if (index < 0) {
            return yield* new BadRequest({ message: `cursor.table: no sealed table named ${start.table}`, details: { field: "cursor.table" } })
          }
          after = start.after
        }
        let rewrapped = 0
        const failures: Array<RewrapFailure> = []
        let failed = 0
        let cursor: RewrapCursor | null = null
        while (index < tables.length) {
          const t = tables[index]!
          if (budget === 0) {
            cursor = { table: t.table, after: after ?? "" }
            break
          }
          const batch: ReadonlyArray<Record<string, unknown>> = yield* sql`SELECT * FROM ${sql(t.table)}
            WHERE ${sql(t.keyId)} <> ${keyring.currentKeyId} ${after === null ? sql`` : sql`AND ${sql(t.id)}::text > ${after}`}
            ORDER BY ${sql(t.id)}::text LIMIT ${budget}`
          for (const row of batch) {
            const id = String(row[t.id])
            const moved = yield* rewrapRow(t, row).pipe(
              Effect.catchTag("KeyringError", (error) =>
                Effect.sync(() => {
                  failed++
                  if (failures.length < FAILURES_REPORTED) failures.push({ table: t.table, id, reason: error.message })
                  return 0
                })
              )
            )
            rewrapped += moved
            after = id
          }
          budget -= batch.length
          if (batch.length === 0 || budget > 0) {
            index++
            after = null
          }
        }
        const counts = yield* Effect.forEach(tables, (t) =>
          Effect.map(remainingIn(t), (remaining) => ({ owner: t.owner, table: t.table, remaining }))
        )
        if (rewrapped > 0 || failed > 0) {
          // Counts only: never a value, never a key.
          yield* events.transaction(
            audit.append(actorOf(operator), {
              action: "keyring.rewrapped",
              targetType: "keyring",
              targetId: keyring.currentKeyId,
              details: { rewrapped, failed, key_id: keyring.currentKeyId, remaining: counts.reduce((n, c) => n + c.remaining, 0) }
            })
          )
        }
        yield* Effect.logInfo(`master key rewrap: ${rewrapped} rewrapped, ${failed} failed`)
        return {
          key_id: keyring.currentKeyId,
          rewrapped,
          failed,
          failures,
          cursor,
          tables: counts,
          remaining: counts.reduce((n, c) => n + c.remaining, 0)
        } satisfies RewrapPass
      }).pipe(sqlDefect, traced("MasterKeyRewrap.run"))

    /** The core's own sealed table: the wrapped data keys (e.g. the audit-chain key). */
    yield* register({
      owner: "core",
      table: "keyring_wrapped_keys",
      id: "purpose",
      keyId: "key_id",
      nonce: "nonce",
      ciphertext: "ciphertext",
      tag: "tag",
      aad: (row) => dataKeyAad(String(row.purpose))
    })

    return { register, run, tables: Effect.sync(() => [...tables]) } as const
  })
}) {}
