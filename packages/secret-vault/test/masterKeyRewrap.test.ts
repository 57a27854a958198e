/**
 * Master key rotation end to end: machine secrets (secret_vault) and the core's
 * data keys are sealed under key A; the server restarts with B (A as previous);
 * `attestation keyring rewrap` (the built CLI, over real HTTP) moves them; after a
 * restart with B alone every secret reads back exactly. The rewrap is
 * idempotent, resumable after an interrupted pass and a restart, reports rows
 * that do not open without stopping, and is admin-only.
 */
import { keyIdOf, loadDataKey } from "@itl-attestation/core"
import { secretVault } from "@itl-attestation/secret-vault"
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import { afterEach, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { BIN, cleanEnv, cli, expectOneLineError, json, ok } from "../../cli/test/support.js"

const databases: FreshDatabase[] = []
const servers: TestServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()))
  await Promise.all(databases.splice(0).map((d) => d.cleanup()))
})

const keyHex = () => crypto.randomBytes(32).toString("hex")
const SHARED_KEY = keyHex()
// Values a careless rewrap would change: multi-byte UTF-8, an empty-looking value, a long one.
const VALUES: Record<string, string> = {
  "disk-key": "s3cr3t-disk",
  unicode: "Grüße, 世界 😀",
  spaces: "  leading and trailing  ",
  long: "x".repeat(20_000),
  json: '{"a":[1,2,{"b":null}]}'
}

const start = async (database: FreshDatabase, env: Record<string, string>) => {
  const server = await startServer({
    database,
    extensions: [secretVault],
    env: { ITL_MACHINE_AUTH: "ek-fingerprint-header", ITL_SHARED_SECRET_MASTER_KEY: SHARED_KEY, ...env }
  })
  servers.push(server)
  return server
}

const stop = async (server: TestServer) => {
  servers.splice(servers.indexOf(server), 1)
  await server.stop()
}

/** One approved machine holding every value in VALUES, sealed under `key`. */
const seed = async (key: string) => {
  const database = await freshDatabase()
  databases.push(database)
  const server = await start(database, { ITL_MASTER_KEY: key })
  const admin = api(server, server.adminToken)
  const machine = (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "rewrap-1" })).body.machine
  expect((await admin.post(`/api/v1/machines/${machine.id}/approve`)).status).toBe(200)
  for (const [name, value] of Object.entries(VALUES)) {
    const created = await admin.post(`/api/v1/secrets/machines/${machine.id}/secrets`, { name, value })
    expect(created.status).toBe(201)
    expect(created.body.key_id).toBe(keyIdOf(Buffer.from(key, "hex")))
  }
  // A core data key besides the audit one (which every start re-wraps by itself), through the exported library API.
  const dataKey = await server.run(loadDataKey("rewrap_test"))
  await stop(server)
  return { database, machine: machine as { id: string; ek_fingerprint: string }, dataKey }
}

/** The machine's view: each secret delivered with hkdf-ek-v1 and opened here with node:crypto. */
const readAll = async (server: TestServer, machine: { id: string; ek_fingerprint: string }) => {
  const ikm = Buffer.from(machine.ek_fingerprint.replace(/^sha256:/, ""), "hex")
  const key = Buffer.from(crypto.hkdfSync("sha256", ikm, "ITL.ControlPlane.Attestation.SecretVault.v1", "machine-secret-encryption", 32))
  const values: Record<string, string> = {}
  for (const name of Object.keys(VALUES)) {
    const response = await api(server).get(`/api/v1/secrets/machines/${machine.id}/secrets/${name}?scheme=hkdf-ek-v1`, {
      "x-ek-fingerprint": machine.ek_fingerprint
    })
    expect(response.status, `${name}: ${response.text.slice(0, 200)}`).toBe(200)
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(response.body.nonce, "base64"))
    decipher.setAuthTag(Buffer.from(response.body.tag, "base64"))
    values[name] = Buffer.concat([decipher.update(Buffer.from(response.body.encrypted_value, "base64")), decipher.final()]).toString("utf8")
  }
  return values
}

const keyIds = async (server: TestServer) => [
  ...(await server.sql<{ key_id: string }>("SELECT key_id FROM extension_secrets")).map((r) => r.key_id),
  ...(await server.sql<{ key_id: string }>("SELECT key_id FROM keyring_wrapped_keys")).map((r) => r.key_id)
]

const rewrapCli = (server: TestServer, args: ReadonlyArray<string> = []) =>
  cli(["keyring", "rewrap", ...args], { ITL_URL: server.url, ITL_TOKEN: server.adminToken })

describe("master key rewrap", () => {
  it("moves machine secrets and data keys to the new key; after it the previous key can go", async () => {
    const A = keyHex()
    const B = keyHex()
    const { database, machine, dataKey } = await seed(A)

    const rotating = await start(database, { ITL_MASTER_KEY: B, ITL_MASTER_KEY_PREVIOUS: A })
    expect(await readAll(rotating, machine)).toEqual(VALUES)

    // Not for operators or viewers; bad input is a 400 naming the field.
    const admin = api(rotating, rotating.adminToken)
    for (const role of ["viewer", "operator"]) {
      const token = (await admin.post("/api/v1/operators/tokens", { name: `${role}-1`, role })).body.token
      expect((await api(rotating, token).post("/api/v1/keyring/rewrap", {})).status).toBe(403)
    }
    expect((await api(rotating).post("/api/v1/keyring/rewrap", {})).status).toBe(401)
    const zero = await admin.post("/api/v1/keyring/rewrap", { limit: 0 })
    expect(zero.status).toBe(400)
    expect(zero.text).toMatch(/limit/)
    const badCursor = await admin.post("/api/v1/keyring/rewrap", { cursor: { table: "machines", after: "" } })
    expect(badCursor.status).toBe(400)
    expect(badCursor.text).toMatch(/cursor\.table/)

    // The first run moves the core's data key and every machine secret, batch by batch.
    const first = await rewrapCli(rotating, ["--batch-size", "2"])
    const lines = ok(first).trim().split("\n")
    expect(lines.at(-1)).toBe(`done: 6 rewrapped, 0 remaining (master key ${keyIdOf(Buffer.from(B, "hex"))})`)
    expect(lines).toContain("rewrapped: 2, failed: 0, remaining: 4")
    expect(first.stdout).not.toContain("\r")
    expect(new Set(await keyIds(rotating))).toEqual(new Set([keyIdOf(Buffer.from(B, "hex"))]))

    // Idempotent: a second run finds nothing.
    const second = json(await cli(["-o", "json", "keyring", "rewrap"], { ITL_URL: rotating.url, ITL_TOKEN: rotating.adminToken }))
    expect(second).toMatchObject({ rewrapped: 0, failed: 0, remaining: 0 })
    expect(second.tables).toEqual(
      expect.arrayContaining([
        { owner: "core", table: "keyring_wrapped_keys", remaining: 0 },
        { owner: "secret_vault", table: "extension_secrets", remaining: 0 }
      ])
    )

    // Audited with counts (one row per batch that changed something: 2 + 2 + 2), never with values.
    const audit = await admin.get("/api/v1/audit?action=keyring.rewrapped")
    expect(audit.body.entries.map((e: any) => [e.details.rewrapped, e.details.failed, e.actor]).sort()).toEqual([
      [2, 0, "bootstrap-admin"], [2, 0, "bootstrap-admin"], [2, 0, "bootstrap-admin"]
    ])
    for (const value of Object.values(VALUES)) expect(audit.text).not.toContain(value.slice(0, 12))
    await stop(rotating)

    // Only B now: everything reads back exactly.
    const after = await start(database, { ITL_MASTER_KEY: B })
    expect(await readAll(after, machine)).toEqual(VALUES)
    expect((await after.run(loadDataKey("rewrap_test"))).equals(dataKey)).toBe(true)
    expect((await api(after, after.adminToken).get("/api/v1/audit/verify")).body.valid).toBe(true)
  })

  it("resumes after an interrupted pass and a restart", async () => {
    const A = keyHex()
    const B = keyHex()
    const { database, machine } = await seed(A)
    const env = { ITL_MASTER_KEY: B, ITL_MASTER_KEY_PREVIOUS: A }
    const rotating = await start(database, env)

    // One batch of two, then the client goes away (as a killed CLI would).
    const partial = await api(rotating, rotating.adminToken).post("/api/v1/keyring/rewrap", { limit: 2 })
    expect(partial.status).toBe(200)
    expect(partial.body).toMatchObject({ rewrapped: 2, failed: 0, remaining: 4 })
    expect(partial.body.cursor).not.toBeNull()
    await stop(rotating)

    // After a restart, a new run does the rest and nothing twice.
    const restarted = await start(database, env)
    expect(ok(await rewrapCli(restarted)).trim().split("\n").at(-1)).toMatch(/^done: 4 rewrapped, 0 remaining/)
    expect(ok(await rewrapCli(restarted)).trim().split("\n").at(-1)).toMatch(/^done: 0 rewrapped, 0 remaining/)
    await stop(restarted)

    const after = await start(database, { ITL_MASTER_KEY: B })
    expect(await readAll(after, machine)).toEqual(VALUES)
  })

  it("a value that does not open is reported and skipped, the others are moved, and the command fails", async () => {
    const A = keyHex()
    const B = keyHex()
    const { database } = await seed(A)
    const rotating = await start(database, { ITL_MASTER_KEY: B, ITL_MASTER_KEY_PREVIOUS: A })
    const [broken] = await rotating.sql<{ secret_id: string }>("SELECT secret_id FROM extension_secrets WHERE name = 'json'")
    // A flipped tag: the row is under a configured key but no longer opens.
    await rotating.sql("UPDATE extension_secrets SET tag = decode('00000000000000000000000000000000', 'hex') WHERE name = 'json'")

    const run = await rewrapCli(rotating, ["--batch-size", "1"])
    expect(run.stdout.trim().split("\n").at(-1)).toMatch(/^done: 5 rewrapped, 1 remaining/)
    const errorOnly = { ...run, stdout: "" }
    expectOneLineError(errorOnly, 1, /1 sealed values are still not under the current master key/, new RegExp(`extension_secrets ${broken!.secret_id}`), /keep ITL_MASTER_KEY_PREVIOUS/)
    expect(run.stderr).not.toContain(VALUES.json!)
    const ids = await rotating.sql<{ name: string; key_id: string }>("SELECT name, key_id FROM extension_secrets")
    for (const row of ids) expect(row.key_id).toBe(row.name === "json" ? keyIdOf(Buffer.from(A, "hex")) : keyIdOf(Buffer.from(B, "hex")))
  })

  it("on a terminal, progress is one line rewritten in place", async () => {
    const A = keyHex()
    const B = keyHex()
    const { database } = await seed(A)
    const rotating = await start(database, { ITL_MASTER_KEY: B, ITL_MASTER_KEY_PREVIOUS: A })
    // `script` gives the CLI a pseudo-terminal as stdout.
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        "script",
        ["-qec", `${process.execPath} ${BIN} keyring rewrap --batch-size 1`, "/dev/null"],
        { env: cleanEnv({ ITL_URL: rotating.url, ITL_TOKEN: rotating.adminToken }), timeout: 45_000 },
        (error, stdout) => (error ? reject(error) : resolve(stdout))
      )
    )
    expect(output).toContain("\r\u001b[2Krewrapped: 1, failed: 0, remaining: 5")
    expect(output).toContain("\r\u001b[2Krewrapped: 6, failed: 0, remaining: 0")
    // One line of progress, then the summary on its own line.
    expect(output.replace(/\r\n/g, "\n").split("\n").filter((l) => l.trim() !== "")).toHaveLength(2)
  })
})
