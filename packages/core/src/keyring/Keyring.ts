/**
 * Envelope encryption for data at rest.
 *
 * The master key (ITL_MASTER_KEY, or for the embedded default a key generated
 * once into the data dir) never encrypts data directly: it wraps data keys.
 * Every ciphertext carries the id of the key that made it, and the AAD binds
 * the ciphertext to the row it belongs to, so a value copied into another row
 * does not open.
 */
import { Context, Data, Effect, Layer, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { AppConfig, isEmbedded } from "../config/AppConfig.js"
import { prepareDataDir } from "../config/dataDir.js"

export interface Sealed {
  readonly keyId: string
  readonly nonce: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

export class KeyringError extends Data.TaggedError("KeyringError")<{ readonly message: string }> {}

export interface KeyringShape {
  /** Id of the key new ciphertexts are made with. */
  readonly currentKeyId: string
  readonly seal: (plaintext: Uint8Array, aad: string) => Sealed
  /** Fails when the key is unknown or the ciphertext, tag or AAD does not match. */
  readonly open: (sealed: Sealed, aad: string) => Effect.Effect<Buffer, KeyringError>
  readonly hasKey: (keyId: string) => boolean
}

export class Keyring extends Context.Tag("@itl-attestation/core/Keyring")<Keyring, KeyringShape>() {}

/** A key id is public: the first 16 hex digits of SHA-256 over a fixed label and the key. */
export const keyIdOf = (key: Buffer) =>
  "mk-" + crypto.createHash("sha256").update("itl-keyring-key-id\0").update(key).digest("hex").slice(0, 16)

export const aesGcmSeal = (key: Buffer, plaintext: Uint8Array, aad: string) => {
  const nonce = crypto.randomBytes(12)
  const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce)
  cipher.setAAD(Buffer.from(aad, "utf8"))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return { nonce, ciphertext, tag: cipher.getAuthTag() }
}

export const aesGcmOpen = (
  key: Buffer,
  sealed: { nonce: Buffer; ciphertext: Buffer; tag: Buffer },
  aad: string
): Buffer | undefined => {
  try {
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, sealed.nonce)
    decipher.setAAD(Buffer.from(aad, "utf8"))
    decipher.setAuthTag(sealed.tag)
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()])
  } catch {
    return undefined
  }
}

export const makeKeyring = (current: Buffer, previous: ReadonlyArray<Buffer>): KeyringShape => {
  const keys = new Map<string, Buffer>()
  for (const key of [current, ...previous]) keys.set(keyIdOf(key), key)
  const currentKeyId = keyIdOf(current)
  return {
    currentKeyId,
    hasKey: (keyId) => keys.has(keyId),
    seal: (plaintext, aad) => ({ keyId: currentKeyId, ...aesGcmSeal(current, plaintext, aad) }),
    open: (sealed, aad) => {
      const key = keys.get(sealed.keyId)
      if (key === undefined) {
        return Effect.fail(new KeyringError({ message: `no key with id ${sealed.keyId} is configured` }))
      }
      const plaintext = aesGcmOpen(key, sealed, aad)
      return plaintext === undefined
        ? Effect.fail(new KeyringError({ message: `ciphertext does not open with key ${sealed.keyId}` }))
        : Effect.succeed(plaintext)
    }
  }
}

/**
 * Reads a 32-byte hex key file, or creates one (mode 0600) when missing.
 * Returns whether it was created, so the caller can say so once.
 */
export const loadOrCreateKeyFile = (file: string) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
      if (fs.existsSync(file)) {
        const hex = fs.readFileSync(file, "utf8").trim()
        if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${file} does not hold 64 hex characters`)
        return { key: Buffer.from(hex, "hex"), created: false }
      }
      const key = crypto.randomBytes(32)
      fs.writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" })
      return { key, created: true }
    },
    catch: (error) => new KeyringError({ message: `cannot use key file: ${(error as Error).message}` })
  })

export const KeyringLive = Layer.effect(
  Keyring,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const previous = Option.toArray(config.masterKeyPrevious).map((k) => Buffer.from(Redacted.value(k), "hex"))
    if (Option.isSome(config.masterKey)) {
      return makeKeyring(Buffer.from(Redacted.value(config.masterKey.value), "hex"), previous)
    }
    if (!isEmbedded(config)) {
      return yield* new KeyringError({
        message: "ITL_MASTER_KEY is required with a PostgreSQL database (ITL_DATABASE_URL, or a database given to the app) (64 hex characters; make one with `openssl rand -hex 32`)"
      })
    }
    yield* Effect.try({ try: () => prepareDataDir(config.dataDir), catch: (error) => new KeyringError({ message: (error as Error).message }) })
    const file = path.resolve(config.dataDir, "master.key")
    const { key, created } = yield* loadOrCreateKeyFile(file)
    if (created) yield* Effect.logWarning(`the master key was generated into ${file}; back it up with the data directory, and set ITL_MASTER_KEY in production`)
    else yield* Effect.logInfo(`using the master key in ${file} (generated on the first start); set ITL_MASTER_KEY in production`)
    return makeKeyring(key, previous)
  })
)
