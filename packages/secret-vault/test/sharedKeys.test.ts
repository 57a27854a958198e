/** Where the shared-secret key comes from, and what happens when it changes. */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { api, fakeEkPem, startServer } from "../../../test-support/server.js"

const databases: FreshDatabase[] = []
afterEach(async () => {
  await Promise.all(databases.splice(0).map((d) => d.cleanup()))
})
const fresh = async () => {
  const database = await freshDatabase()
  databases.push(database)
  return database
}
const usingPostgres = process.env.TEST_DATABASE_URL !== undefined && process.env.TEST_DATABASE_URL !== ""
const keyHex = () => crypto.randomBytes(32).toString("hex")

/** Starts, stores a shared secret granted to one machine (header mode), stops; returns how to read it back. */
const seed = async (database: FreshDatabase, env: Record<string, string>) => {
  const server = await startServer({ database, extensions: [secretVault], env: { ITL_MACHINE_AUTH: "ek-fingerprint-header", ...env } })
  const admin = api(server, server.adminToken)
  const machine = (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "keys-1" })).body.machine
  await admin.post(`/api/v1/machines/${machine.id}/approve`)
  const secret = (await admin.post("/api/v1/shared-secrets", { name: "api-key", value: "kept-across-restarts" })).body
  await admin.post(`/api/v1/shared-secrets/${secret.shared_secret_id}/access`, { machine_ids: [machine.id] })
  await server.stop()
  return { fingerprint: machine.ek_fingerprint as string, keyId: secret.encryption_key_id as string }
}

const readBack = async (database: FreshDatabase, env: Record<string, string>, fingerprint: string) => {
  const server = await startServer({ database, extensions: [secretVault], env: { ITL_MACHINE_AUTH: "ek-fingerprint-header", ...env } })
  try {
    const response = await api(server).get("/api/v1/shared-secrets/by-name/api-key/value", { "x-ek-fingerprint": fingerprint })
    return { value: response.body?.value as string | undefined, server }
  } finally {
    await server.stop()
  }
}

describe("shared-secret key", () => {
  it("ITL_SHARED_SECRET_MASTER_KEY: the same key opens after a restart; another key stops the start", async () => {
    const database = await fresh()
    const key = keyHex()
    const { fingerprint, keyId } = await seed(database, { ITL_SHARED_SECRET_MASTER_KEY: key })
    expect(keyId).toMatch(/^master-key:v1:/)
    expect((await readBack(database, { ITL_SHARED_SECRET_MASTER_KEY: key }, fingerprint)).value).toBe("kept-across-restarts")
    await expect(startServer({ database, extensions: [secretVault], env: { ITL_SHARED_SECRET_MASTER_KEY: keyHex() } })).rejects.toThrow(
      /secret_vault: the configured shared-secret key \(master-key:v1:\w+\) cannot open stored shared secrets encrypted with master-key:v1:/
    )
  })

  it("ITL_SHARED_SECRET_PASSPHRASE derives the key as SHA-256 of the passphrase", async () => {
    const database = await fresh()
    const { fingerprint, keyId } = await seed(database, { ITL_SHARED_SECRET_PASSPHRASE: "correct horse battery staple" })
    expect(keyId).toMatch(/^passphrase:v1:/)
    // The same key given as hex opens it: the derivation is exactly SHA-256(passphrase).
    const asHex = crypto.createHash("sha256").update("correct horse battery staple").digest("hex")
    expect((await readBack(database, { ITL_SHARED_SECRET_MASTER_KEY: asHex }, fingerprint)).value).toBe("kept-across-restarts")
    await expect(
      startServer({ database, extensions: [secretVault], env: { ITL_SHARED_SECRET_PASSPHRASE: "wrong" } })
    ).rejects.toThrow(/cannot open stored shared secrets/)
  })

  it("rotation: with the previous key configured old rows open, rewrap moves them (idempotent), then the old key can go", async () => {
    const database = await fresh()
    const oldKey = keyHex()
    const newKey = keyHex()
    const { fingerprint } = await seed(database, { ITL_SHARED_SECRET_MASTER_KEY: oldKey })
    const env = { ITL_MACHINE_AUTH: "ek-fingerprint-header", ITL_SHARED_SECRET_MASTER_KEY: newKey, ITL_SHARED_SECRET_MASTER_KEY_PREVIOUS: oldKey }
    const rotating = await startServer({ database, extensions: [secretVault], env })
    const admin = api(rotating, rotating.adminToken)
    expect((await api(rotating).get("/api/v1/shared-secrets/by-name/api-key/value", { "x-ek-fingerprint": fingerprint })).body.value).toBe("kept-across-restarts")
    const operator = (await admin.post("/api/v1/operators/tokens", { name: "op", role: "operator" })).body.token
    expect((await api(rotating, operator).post("/api/v1/shared-secrets/rewrap")).status).toBe(403)
    const first = await admin.post("/api/v1/shared-secrets/rewrap")
    expect(first.body).toMatchObject({ rewrapped: 1, remaining: 0 })
    expect(first.body.encryption_key_id).toMatch(/^master-key:v1:/)
    expect((await admin.post("/api/v1/shared-secrets/rewrap")).body).toMatchObject({ rewrapped: 0, remaining: 0 })
    await rotating.stop()
    expect((await readBack(database, { ITL_SHARED_SECRET_MASTER_KEY: newKey }, fingerprint)).value).toBe("kept-across-restarts")
  })

  it.runIf(!usingPostgres)("embedded default: a key generated once, 0600, reused on restart", async () => {
    const database = await fresh()
    const { fingerprint, keyId } = await seed(database, {})
    expect(keyId).toMatch(/^generated:v1:/)
    const file = path.join(database.env.ITL_DATA_DIR!, "shared-secret.key")
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect((await readBack(database, {}, fingerprint)).value).toBe("kept-across-restarts")
  })

  it.runIf(usingPostgres)("with PostgreSQL and no key, the start is refused unless ephemeral keys are allowed", async () => {
    const database = await fresh()
    await expect(startServer({ database, extensions: [secretVault] })).rejects.toThrow(
      /ITL_SHARED_SECRET_MASTER_KEY \(64 hex characters; make one with `openssl rand -hex 32`\) or ITL_SHARED_SECRET_PASSPHRASE is required with ITL_DATABASE_URL/
    )
    const ephemeral = await startServer({ database, extensions: [secretVault], env: { ITL_SHARED_SECRET_ALLOW_EPHEMERAL: "true" } })
    const created = await api(ephemeral, ephemeral.adminToken).post("/api/v1/shared-secrets", { name: "temp", value: "v" })
    expect(created.body.encryption_key_id).toMatch(/^ephemeral:v1:/)
    await ephemeral.stop()
    // The next start has another random key: the stored secret no longer opens, so it refuses.
    await expect(
      startServer({ database, extensions: [secretVault], env: { ITL_SHARED_SECRET_ALLOW_EPHEMERAL: "true" } })
    ).rejects.toThrow(/cannot open stored shared secrets encrypted with ephemeral/)
  })

  it("a malformed key stops the start naming the variable", async () => {
    const database = await fresh()
    await expect(startServer({ database, extensions: [secretVault], env: { ITL_SHARED_SECRET_MASTER_KEY: "abc" } })).rejects.toThrow(
      /ITL_SHARED_SECRET_MASTER_KEY.*64 hexadecimal/
    )
  })
})
