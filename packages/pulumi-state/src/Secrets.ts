/**
 * The "service" secrets provider: each stack has its own random AES-256 data
 * key, made on first use and stored wrapped by the core keyring (the AAD
 * names the stack, so a wrapped key copied to another stack's row does not
 * open). A ciphertext is `v1:<base64(12-byte nonce ‖ ciphertext ‖ 16-byte tag)>`,
 * sealed with the stack id as AAD; the CLI carries it as base64 of those bytes.
 * Plaintexts are bytes (the CLI sends base64), not necessarily UTF-8.
 */
import { SqlClient } from "@effect/sql"
import { Keyring, MasterKeyRewrap } from "@itl-attestation/core"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import { badField, type PulumiError } from "./PulumiError.js"
import type { StackRow } from "./Stacks.js"

const PREFIX = "v1:"
const NONCE_BYTES = 12
const TAG_BYTES = 16
/** Values per batch call (the CLI sends at most 1000). */
export const MAX_BATCH = 10_000

const keyAad = (stackId: string) => `pulumi_state:stack-key:${stackId}`

export const stackKeysSealed = {
  owner: "pulumi_state",
  table: "extension_pulumi_state_secret_keys",
  id: "stack_id",
  keyId: "key_id",
  nonce: "nonce",
  ciphertext: "wrapped_key",
  tag: "tag",
  aad: (row: Record<string, unknown>) => keyAad(String(row.stack_id))
} as const

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Standard base64 with padding, as Go's encoding/json writes []byte. */
export const decodeBase64 = (value: unknown, field: string): Effect.Effect<Buffer, PulumiError> =>
  typeof value === "string" && BASE64.test(value) ? Effect.succeed(Buffer.from(value, "base64")) : badField(field, "must be standard base64")

interface KeyRow {
  readonly key_id: string
  readonly nonce: Buffer
  readonly wrapped_key: Buffer
  readonly tag: Buffer
}

export class Secrets extends Effect.Service<Secrets>()("@itl-attestation/pulumi-state/Secrets", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const keyring = yield* Keyring
    yield* Effect.flatMap(MasterKeyRewrap, (rewrap) => rewrap.register(stackKeysSealed))

    const readKey = (stackId: string) =>
      sql<KeyRow>`SELECT key_id, nonce, wrapped_key, tag FROM extension_pulumi_state_secret_keys WHERE stack_id = ${stackId}`.pipe(
        Effect.map((rows) => rows[0]),
        Effect.orDie
      )

    /** The stack's data key, made and stored (wrapped) on first use; concurrent first uses agree on one. */
    const keyOf = (stack: StackRow) =>
      Effect.gen(function* () {
        let row = yield* readKey(stack.stack_id)
        if (row === undefined) {
          const sealed = keyring.seal(crypto.randomBytes(32), keyAad(stack.stack_id))
          yield* sql`INSERT INTO extension_pulumi_state_secret_keys (stack_id, key_id, nonce, wrapped_key, tag)
            VALUES (${stack.stack_id}, ${sealed.keyId}, ${sealed.nonce}, ${sealed.ciphertext}, ${sealed.tag})
            ON CONFLICT (stack_id) DO NOTHING`.pipe(Effect.orDie)
          row = yield* readKey(stack.stack_id)
        }
        return yield* keyring
          .open({ keyId: row!.key_id, nonce: Buffer.from(row!.nonce), ciphertext: Buffer.from(row!.wrapped_key), tag: Buffer.from(row!.tag) }, keyAad(stack.stack_id))
          .pipe(Effect.orDie)
      })

    const seal = (key: Buffer, stack: StackRow, plaintext: Buffer) => {
      const nonce = crypto.randomBytes(NONCE_BYTES)
      const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce)
      cipher.setAAD(Buffer.from(stack.stack_id, "utf8"))
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
      return Buffer.from(PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64"), "utf8")
    }

    const open = (key: Buffer, stack: StackRow, ciphertext: Buffer, field: string) => {
      const refused = badField(field, "is not a ciphertext of this stack")
      const text = ciphertext.toString("latin1")
      if (!text.startsWith(PREFIX) || !BASE64.test(text.slice(PREFIX.length))) return refused
      const bytes = Buffer.from(text.slice(PREFIX.length), "base64")
      if (bytes.length < NONCE_BYTES + TAG_BYTES) return refused
      try {
        const decipher = crypto.createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES))
        decipher.setAAD(Buffer.from(stack.stack_id, "utf8"))
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
        return Effect.succeed(Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]))
      } catch {
        return refused
      }
    }

    const encrypt = (stack: StackRow, plaintexts: ReadonlyArray<Buffer>) =>
      Effect.map(keyOf(stack), (key) => plaintexts.map((p) => seal(key, stack, p)))

    /** Each ciphertext (with the field that named it) decrypted; the first that does not open fails the call. */
    const decrypt = (stack: StackRow, ciphertexts: ReadonlyArray<{ readonly bytes: Buffer; readonly field: string }>) =>
      Effect.flatMap(keyOf(stack), (key) => Effect.forEach(ciphertexts, (c) => open(key, stack, c.bytes, c.field)))

    return { encrypt, decrypt } as const
  })
}) {}
