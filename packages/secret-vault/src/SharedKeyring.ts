/**
 * The key that protects shared secrets, and where it comes from:
 * ITL_SHARED_SECRET_MASTER_KEY, else SHA-256 of ITL_SHARED_SECRET_PASSPHRASE
 * (as existing deployments derive it), else — embedded database only — a key
 * generated once into the data dir, else (with ITL_SHARED_SECRET_ALLOW_EPHEMERAL)
 * a random key lost on restart. `encryption_key_id` = `<source>:v1:<fingerprint>`.
 *
 * At start, a key that cannot open what is stored stops the start (a canary
 * check), instead of failing later on the first read.
 */
import { SqlClient } from "@effect/sql"
import { describeFailure, FatalExtensionError, HostEnvironment } from "@itl-attestation/core"
import { ConfigError, Context, Effect, Layer, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { gcmOpen, gcmSeal } from "./gcm.js"
import { vaultConfig } from "./VaultConfig.js"

export interface SharedKey {
  readonly key: Buffer
  readonly keyId: string
  readonly fingerprint: string
}

export interface SharedKeyringShape {
  readonly current: SharedKey
  /** Opens with the key whose fingerprint the key id names (current or previous). */
  readonly keyFor: (keyId: string) => SharedKey | undefined
}

export class SharedKeyring extends Context.Tag("@itl-attestation/secret-vault/SharedKeyring")<SharedKeyring, SharedKeyringShape>() {}

const fingerprintOf = (key: Buffer) =>
  crypto.createHash("sha256").update("itl-shared-secret-key\0").update(key).digest("hex").slice(0, 16)

const makeKey = (key: Buffer, source: string): SharedKey => {
  const fingerprint = fingerprintOf(key)
  return { key, fingerprint, keyId: `${source}:v1:${fingerprint}` }
}

export const fingerprintOfKeyId = (keyId: string) => keyId.split(":").at(-1) ?? ""

const fatal = (message: string) => new FatalExtensionError({ message })

/** Chooses the key from the configuration; warns about the weaker sources. */
const chooseKey = Effect.gen(function* () {
  const config = yield* vaultConfig.pipe(Effect.mapError((e: ConfigError.ConfigError) => fatal(describeFailure(e))))
  const host = yield* HostEnvironment
  const previous = Option.map(config.masterKeyPrevious, (k) => makeKey(Buffer.from(Redacted.value(k), "hex"), "master-key"))
  if (Option.isSome(config.masterKey)) {
    return { current: makeKey(Buffer.from(Redacted.value(config.masterKey.value), "hex"), "master-key"), previous }
  }
  if (Option.isSome(config.passphrase)) {
    const key = crypto.createHash("sha256").update(Redacted.value(config.passphrase.value), "utf8").digest()
    return { current: makeKey(key, "passphrase"), previous }
  }
  if (host.embeddedDatabase) {
    const file = path.resolve(host.dataDir, "shared-secret.key")
    const { key, created } = yield* Effect.try({
      try: () => {
        if (fs.existsSync(file)) return { key: Buffer.from(fs.readFileSync(file, "utf8").trim(), "hex"), created: false }
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
        const generated = crypto.randomBytes(32)
        fs.writeFileSync(file, generated.toString("hex") + "\n", { mode: 0o600, flag: "wx" })
        return { key: generated, created: true }
      },
      catch: (error) => fatal(`cannot use ${file}: ${(error as Error).message}`)
    })
    if (key.length !== 32) return yield* fatal(`${file} does not hold 64 hex characters`)
    // "Generated" only on the start that made it: a warm start that says so again reads like a lost key.
    if (created) {
      yield* Effect.logWarning(`shared secrets are protected by a key generated into ${file}; set ITL_SHARED_SECRET_MASTER_KEY in production`)
    } else {
      yield* Effect.logInfo(`using the shared-secret key in ${file} (generated on the first start); set ITL_SHARED_SECRET_MASTER_KEY in production`)
    }
    return { current: makeKey(key, "generated"), previous }
  }
  if (config.allowEphemeral) {
    yield* Effect.logWarning(
      "ITL_SHARED_SECRET_ALLOW_EPHEMERAL=true: shared secrets are protected by a random key that is LOST ON RESTART; secrets stored now will not open after one"
    )
    return { current: makeKey(crypto.randomBytes(32), "ephemeral"), previous }
  }
  return yield* fatal(
    "ITL_SHARED_SECRET_MASTER_KEY (64 hex characters; make one with `openssl rand -hex 32`) or ITL_SHARED_SECRET_PASSPHRASE is required with ITL_DATABASE_URL; ITL_SHARED_SECRET_ALLOW_EPHEMERAL=true runs with a key lost on restart"
  )
})

const CANARY = Buffer.from("itl-secret-vault-canary")

export const SharedKeyringLive = Layer.effect(
  SharedKeyring,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { current, previous } = yield* chooseKey
    const usable = new Map([[current.fingerprint, current]])
    if (Option.isSome(previous)) usable.set(previous.value.fingerprint, previous.value)

    // Every key that protects stored secrets must be configured.
    const inUse = yield* sql<{ encryption_key_id: string }>`SELECT DISTINCT encryption_key_id FROM extension_shared_secrets`
    const unopenable = inUse.filter((row) => !usable.has(fingerprintOfKeyId(row.encryption_key_id)))
    if (unopenable.length > 0) {
      return yield* fatal(
        `the configured shared-secret key (${current.keyId}) cannot open stored shared secrets encrypted with ${unopenable.map((r) => r.encryption_key_id).join(", ")}; configure the key they were made with, or name it in ITL_SHARED_SECRET_MASTER_KEY_PREVIOUS`
      )
    }
    // The canary proves the key bytes, not just their fingerprint.
    const [canary] = yield* sql<{ nonce: Buffer; ciphertext: Buffer; tag: Buffer }>`
      SELECT nonce, ciphertext, tag FROM extension_secret_vault_keys WHERE key_fingerprint = ${current.fingerprint}`
    if (canary === undefined) {
      const sealed = gcmSeal(current.key, CANARY, "canary")
      yield* sql`INSERT INTO extension_secret_vault_keys (key_fingerprint, key_id, nonce, ciphertext, tag)
        VALUES (${current.fingerprint}, ${current.keyId}, ${sealed.nonce}, ${sealed.ciphertext}, ${sealed.tag})
        ON CONFLICT (key_fingerprint) DO NOTHING`
    } else if (!gcmOpen(current.key, canary, "canary")?.equals(CANARY)) {
      return yield* fatal(`the configured shared-secret key (${current.keyId}) does not open its canary`)
    }
    return {
      current,
      keyFor: (keyId: string) => usable.get(fingerprintOfKeyId(keyId))
    }
  }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(fatal(`cannot check the shared-secret key: ${e.message}`))))
)
