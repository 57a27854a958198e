/**
 * Data keys: random 32-byte keys, one per purpose (e.g. the audit chain),
 * stored in the database wrapped by the master key. Because they are opened at
 * startup, a master key that cannot open them stops the start with a clear
 * message instead of failing later on the first read.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import { Keyring, KeyringError } from "./Keyring.js"

interface WrappedRow {
  readonly key_id: string
  readonly nonce: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

export const dataKeyAad = (purpose: string) => `keyring_wrapped_keys:${purpose}`

/** Loads (creating on first use) the data key for `purpose`; re-wraps it after a master key rotation. */
export const loadDataKey = (purpose: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const keyring = yield* Keyring
    const select = sql<WrappedRow>`SELECT key_id, nonce, ciphertext, tag FROM keyring_wrapped_keys WHERE purpose = ${purpose}`
    let rows = yield* select
    if (rows.length === 0) {
      const sealed = keyring.seal(crypto.randomBytes(32), dataKeyAad(purpose))
      // Two instances may race on first start: the first insert wins, both read it back.
      yield* sql`INSERT INTO keyring_wrapped_keys (purpose, key_id, nonce, ciphertext, tag)
        VALUES (${purpose}, ${sealed.keyId}, ${sealed.nonce}, ${sealed.ciphertext}, ${sealed.tag})
        ON CONFLICT (purpose) DO NOTHING`
      rows = yield* select
    }
    const row = rows[0]!
    const key = yield* keyring
      .open({ keyId: row.key_id, nonce: row.nonce, ciphertext: row.ciphertext, tag: row.tag }, dataKeyAad(purpose))
      .pipe(
        Effect.mapError(
          () =>
            new KeyringError({
              message: `the configured master key cannot open the stored '${purpose}' key (stored under ${row.key_id}, configured ${keyring.currentKeyId}); set ITL_MASTER_KEY to the key this database was created with, or name the old key in ITL_MASTER_KEY_PREVIOUS`
            })
        )
      )
    if (row.key_id !== keyring.currentKeyId) {
      const sealed = keyring.seal(key, dataKeyAad(purpose))
      yield* sql`UPDATE keyring_wrapped_keys SET key_id = ${sealed.keyId}, nonce = ${sealed.nonce},
        ciphertext = ${sealed.ciphertext}, tag = ${sealed.tag} WHERE purpose = ${purpose} AND key_id = ${row.key_id}`
    }
    return key
  })
