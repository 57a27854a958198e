/**
 * The built `attestation secret …`, `shared-secret …` and `agent secret get`
 * commands against a live server with the secret_vault extension: what an
 * operator stores and sees (never a value), a machine secret read in the
 * compatibility mode (EK fingerprint header, decrypted locally) and through a
 * software TPM (credential activation), errors in one line, and a rewrap
 * after the shared-secret master key changed.
 */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FreshDatabase, freshDatabase } from "../../../test-support/database.js"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { startSwtpm, type Swtpm } from "../../../test-support/swtpm.js"
import { agentOn, cli, expectOneLineError, expectUsageError, json, ok, resetTpm, type Run } from "./support.js"

const keyA = crypto.randomBytes(32).toString("hex")
const keyB = crypto.randomBytes(32).toString("hex")
// Header mode accepts session tokens too, so one server serves every path.
const baseEnv = { ITL_MACHINE_AUTH: "ek-fingerprint-header", ITL_SHARED_SECRET_MASTER_KEY: keyA }

let database: FreshDatabase
let server: TestServer
const asAdmin = (args: ReadonlyArray<string>) => cli(args, { ITL_URL: server.url, ITL_TOKEN: server.adminToken })
const as = (token: string, args: ReadonlyArray<string>) => cli(args, { ITL_URL: server.url, ITL_TOKEN: token })

beforeAll(async () => {
  // Made here rather than by startServer, so the server can restart on it.
  database = await freshDatabase()
  server = await startServer({ extensions: [secretVault], database, env: baseEnv })
})

afterAll(async () => {
  await server?.stop()
  await database?.cleanup()
})

/** A registered machine (a fake EK, no TPM), approved unless told otherwise. */
const register = async (hostname: string, approve = true) => {
  const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname })
  expect(registered.status).toBe(201)
  const machine = registered.body.machine as { id: string; ek_fingerprint: string }
  if (approve) {
    const approved = await api(server, server.adminToken).post(`/api/v1/machines/${machine.id}/approve`)
    expect(approved.status, approved.text).toBe(200)
  }
  return machine
}

/** A shared secret's value as a machine reads it (header mode). */
const readShared = (fingerprint: string, name: string) =>
  api(server).get(`/api/v1/shared-secrets/by-name/${name}/value`, { "x-ek-fingerprint": fingerprint })

const tableLines = (run: Run) => ok(run).trimEnd().split("\n")

describe("attestation secret", () => {
  let node: { id: string; ek_fingerprint: string }
  let other: { id: string; ek_fingerprint: string }
  let pending: { id: string; ek_fingerprint: string }
  let diskKeyId: string
  const value = "correct horse battery staple"
  // Spaces, a newline, non-ASCII: printed back byte for byte.
  const awkward = "pa ss\nwörd ✓ $HOME 'q'"

  beforeAll(async () => {
    ;[node, other, pending] = await Promise.all([register("vault-node"), register("vault-other"), register("vault-pending", false)])
  })

  it("creates a secret and prints its metadata, never the value", async () => {
    const [asJson, asTable] = await Promise.all([
      asAdmin(["-o", "json", "secret", "create", node.id, "--name", "disk-key", "--value", value]),
      asAdmin(["secret", "create", node.id, "--name", "awkward", "--value", awkward])
    ])
    const created = json(asJson)
    expect(created).toMatchObject({ machine_id: node.id, name: "disk-key", access_count: 0, last_accessed_at: null })
    expect(created.secret_id).toMatch(/^[0-9a-f-]{36}$/)
    diskKeyId = created.secret_id
    expect(asJson.stdout).not.toContain(value)

    const shown = ok(asTable)
    expect(shown).toMatch(/^name\s+awkward$/m)
    expect(shown).toMatch(new RegExp(`^machine_id\\s+${node.id}$`, "m"))
    expect(shown).not.toContain("wörd")
  })

  it("refuses a duplicate name (409) and an unknown machine (404), in one line", async () => {
    const [duplicate, unknown] = await Promise.all([
      asAdmin(["secret", "create", node.id, "--name", "disk-key", "--value", "other"]),
      asAdmin(["secret", "create", crypto.randomUUID(), "--name", "disk-key", "--value", "x"])
    ])
    expectOneLineError(duplicate, 5, /already has a secret named disk-key/, /HTTP 409/)
    expectOneLineError(unknown, 3, /machine [0-9a-f-]{36} not found/, /HTTP 404/)
  })

  it("lists a machine's secrets as a table and as JSON", async () => {
    const [asTable, asJson] = await Promise.all([asAdmin(["secret", "list", node.id]), asAdmin(["-o", "json", "secret", "list", node.id])])
    const lines = tableLines(asTable)
    expect(lines[0]).toMatch(/^SECRET_ID\s+NAME\s+CREATED_AT\s+CREATED_BY\s+LAST_ACCESSED_AT\s+ACCESS_COUNT$/)
    expect(lines.find((line) => line.startsWith(diskKeyId))).toMatch(/\s+disk-key\s+\d{4}-\d\d-\d\dT\S+Z\s+\S+\s+-\s+0$/)
    expect(lines.at(-1)).toBe("2 secrets")
    const list = json(asJson)
    expect(list.total).toBe(2)
    expect(list.secrets.map((s: { name: string }) => s.name)).toEqual(["awkward", "disk-key"])
    expect(asJson.stdout).not.toContain(value)
  })

  it("gets a secret by EK fingerprint and decrypts it locally", async () => {
    // The operator token in the environment is not sent: the fingerprint is the credential.
    const [plain, asJson, odd] = await Promise.all([
      asAdmin(["secret", "get", node.id, "disk-key", "--ek-fingerprint", node.ek_fingerprint]),
      cli(["-o", "json", "--url", server.url, "secret", "get", node.id, "disk-key", "--ek-fingerprint", node.ek_fingerprint]),
      asAdmin(["secret", "get", node.id, "awkward", "--ek-fingerprint", node.ek_fingerprint.toUpperCase().replace("SHA256:", "")])
    ])
    expect(ok(plain)).toBe(`${value}\n`)
    expect(json(asJson)).toEqual({ name: "disk-key", value })
    expect(ok(odd)).toBe(`${awkward}\n`)
  })

  it("reports a refused or impossible get in one line", async () => {
    const [unknownName, otherMachine, notApproved, badFingerprint] = await Promise.all([
      asAdmin(["secret", "get", node.id, "nope", "--ek-fingerprint", node.ek_fingerprint]),
      // Another machine learns nothing, not even that the secret exists.
      asAdmin(["secret", "get", node.id, "disk-key", "--ek-fingerprint", other.ek_fingerprint]),
      asAdmin(["secret", "get", pending.id, "disk-key", "--ek-fingerprint", pending.ek_fingerprint]),
      asAdmin(["secret", "get", node.id, "disk-key", "--ek-fingerprint", "sha256:1234"])
    ])
    expectOneLineError(unknownName, 3, /not_found: no secret named nope for this machine \(HTTP 404\)/)
    expectOneLineError(otherMachine, 3, /not_found: no secret named disk-key for this machine \(HTTP 404\)/)
    expectOneLineError(notApproved, 4, /machine_pending_approval/, /HTTP 401/)
    expectUsageError(badFingerprint, "attestation secret get", /--ek-fingerprint: expected sha256: and 64 hex digits, got 'sha256:1234'/)
  })

  it("deletes a secret", async () => {
    expect(json(await asAdmin(["-o", "json", "secret", "delete", diskKeyId]))).toEqual({ id: diskKeyId, deleted: true })
    const [again, listed] = await Promise.all([asAdmin(["secret", "delete", diskKeyId]), asAdmin(["-o", "json", "secret", "list", node.id])])
    expectOneLineError(again, 3, new RegExp(`secret ${diskKeyId} not found \\(HTTP 404\\)`))
    // What is left, with the read above counted.
    expect(json(listed).secrets).toEqual([expect.objectContaining({ name: "awkward", access_count: 1, last_accessed_at: expect.any(String) })])
  })
})

describe("attestation shared-secret", () => {
  let a: { id: string; ek_fingerprint: string }
  let b: { id: string; ek_fingerprint: string }

  beforeAll(async () => {
    ;[a, b] = await Promise.all([register("shared-a"), register("shared-b")])
  })

  it("creates shared secrets, with and without a description", async () => {
    const [withDescription, without] = await Promise.all([
      asAdmin(["-o", "json", "shared-secret", "create", "db-pass", "--value", "hunter2", "--description", "the database"]),
      asAdmin(["shared-secret", "create", "api-key", "--value", "k-1"])
    ])
    expect(json(withDescription)).toMatchObject({ name: "db-pass", description: "the database", authorized_machine_count: 0, last_rotated_at: null })
    expect(withDescription.stdout).not.toContain("hunter2")
    const shown = ok(without)
    expect(shown).toMatch(/^name\s+api-key$/m)
    expect(shown).toMatch(/^description\s+-$/m)
    expect(shown).not.toContain("k-1")

    expectOneLineError(await asAdmin(["shared-secret", "create", "db-pass", "--value", "x"]), 5, /a shared secret named db-pass already exists \(HTTP 409\)/)
  })

  it("grants, shows and revokes access by name", async () => {
    const granted = tableLines(await asAdmin(["shared-secret", "grant", "db-pass", "--machines", `${a.id},${b.id}`]))
    expect(granted[0]).toMatch(/^MACHINE_ID\s+HOSTNAME\s+GRANTED_AT\s+GRANTED_BY\s+LAST_ACCESSED_AT\s+ACCESS_COUNT$/)
    expect(granted.at(-1)).toBe("2 machines")
    expect(granted.find((line) => line.startsWith(a.id))).toMatch(/\s+shared-a\s+\d{4}-\d\d-\d\dT\S+Z\s+\S+\s+-\s+0$/)

    // A granted machine reads the value; the access shows in the grants.
    const read = await readShared(a.ek_fingerprint, "db-pass")
    expect(read.status).toBe(200)
    expect(read.body.value).toBe("hunter2")
    const access = json(await asAdmin(["-o", "json", "shared-secret", "access", "db-pass"]))
    expect(access.total).toBe(2)
    expect(access.access_grants.find((g: { machine_id: string }) => g.machine_id === a.id)).toMatchObject({ hostname: "shared-a", access_count: 1 })

    const revoked = json(await asAdmin(["-o", "json", "shared-secret", "revoke", "db-pass", "--machines", b.id]))
    expect(revoked.access_grants.map((g: { machine_id: string }) => g.machine_id)).toEqual([a.id])
    expect((await readShared(b.ek_fingerprint, "db-pass")).body.error).toBe("not_granted")

    const listed = tableLines(await asAdmin(["shared-secret", "list"]))
    expect(listed[0]).toMatch(/^NAME\s+ID\s+MACHINES\s+CREATED_AT\s+CREATED_BY\s+LAST_ROTATED_AT\s+DESCRIPTION$/)
    expect(listed.find((line) => line.startsWith("db-pass"))).toMatch(/^db-pass\s+[0-9a-f-]{36}\s+1\s+.*\s+the database$/)
    expect(listed.at(-1)).toBe("2 shared secrets")
  })

  it("reports unknown names, unknown machines and missing grants in one line", async () => {
    const [unknownName, unknownMachine, notGranted] = await Promise.all([
      asAdmin(["shared-secret", "grant", "nope", "--machines", a.id]),
      asAdmin(["shared-secret", "grant", "db-pass", "--machines", crypto.randomUUID()]),
      // a still has access; b not: nothing is revoked (see the count after rotate).
      asAdmin(["shared-secret", "revoke", "db-pass", "--machines", `${a.id},${b.id}`])
    ])
    expectOneLineError(unknownName, 3, /^attestation: no shared secret named nope$/)
    expectOneLineError(unknownMachine, 3, /unknown machine ids: [0-9a-f-]{36} \(HTTP 404\)/)
    expectOneLineError(notGranted, 1, new RegExp(`not granted: machine ${b.id} has no access to db-pass; nothing revoked`))
  })

  it("rotates a value", async () => {
    const rotated = json(await asAdmin(["-o", "json", "shared-secret", "rotate", "db-pass", "--value", "hunter3"]))
    expect(rotated).toMatchObject({ name: "db-pass", description: "the database", authorized_machine_count: 1 })
    expect(rotated.last_rotated_at).not.toBeNull()
    expect((await readShared(a.ek_fingerprint, "db-pass")).body.value).toBe("hunter3")
  })

  it("deletes by name", async () => {
    expect(ok(await asAdmin(["shared-secret", "delete", "db-pass"]))).toBe("deleted shared secret db-pass\n")
    expectOneLineError(await asAdmin(["shared-secret", "access", "db-pass"]), 3, /^attestation: no shared secret named db-pass$/)
  })
})

describe("attestation agent secret get (software TPM)", () => {
  let tpm: Swtpm
  let stateDir: string
  let agent: (args: ReadonlyArray<string>) => Promise<Run>
  let machineId: string
  const value = "tpm-bound value ✓"

  beforeAll(async () => {
    // No EK certificate: the server needs no CA bundle.
    tpm = await startSwtpm({ ekCerts: false })
    stateDir = join(await mkdtemp(join(tmpdir(), "agent-secret-")), "agent")
    agent = agentOn(tpm, server.url, stateDir)
    machineId = json(await agent(["-o", "json", "enroll", "--hostname", "tpm-node"])).id
    expect((await api(server, server.adminToken).post(`/api/v1/machines/${machineId}/approve`)).status).toBe(200)
    expect(json(await agent(["-o", "json", "attest"])).machine.status).toBe("attested")
    json(await asAdmin(["-o", "json", "secret", "create", machineId, "--name", "luks", "--value", value]))
  })

  afterAll(async () => {
    await tpm?.stop()
    if (stateDir !== undefined) await rm(join(stateDir, ".."), { recursive: true, force: true })
  })

  it("recovers the key with the TPM and prints the value; no key file is left behind", async () => {
    expect(json(await agent(["-o", "json", "secret", "get", "luks"]))).toEqual({ name: "luks", value })
    expect((await readdir(stateDir)).filter((file) => file.startsWith("secret-"))).toEqual([])
    expect((await tpm.run("tpm2_getcap", ["handles-transient"])).stdout.trim()).toBe("")
  })

  it("still works after a TPM reset, reloading the keys", async () => {
    await resetTpm(tpm)
    expect(ok(await agent(["secret", "get", "luks"]))).toBe(`${value}\n`)
  })

  it("reports an unknown secret in one line", async () => {
    expectOneLineError(await agent(["secret", "get", "nope"]), 3, /not_found: no secret named nope for this machine \(HTTP 404\)/)
  })
})

describe("attestation shared-secret rewrap", () => {
  it("moves shared secrets to a new master key; admin only", async () => {
    expect(ok(await asAdmin(["shared-secret", "rewrap"]))).toMatch(/^rewrapped: 0, remaining: 0 \(encryption key master-key:v1:[0-9a-f]{16}\)\n$/)
    const operator = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "ops", role: "operator" })
    expect(operator.status).toBe(201)
    expectOneLineError(await as(operator.body.token, ["shared-secret", "rewrap"]), 4, /HTTP 403/)

    // Restart with a new master key, the old one named as previous.
    await server.stop()
    server = await startServer({
      extensions: [secretVault],
      database,
      env: { ...baseEnv, ITL_SHARED_SECRET_MASTER_KEY: keyB, ITL_SHARED_SECRET_MASTER_KEY_PREVIOUS: keyA }
    })
    const before = (await api(server, server.adminToken).get("/api/v1/shared-secrets")).body.secrets as ReadonlyArray<{ encryption_key_id: string }>
    expect(before.length).toBeGreaterThan(0)
    const result = json(await asAdmin(["-o", "json", "shared-secret", "rewrap"]))
    expect(result).toMatchObject({ rewrapped: before.length, remaining: 0 })
    expect(before.every((s) => s.encryption_key_id !== result.encryption_key_id)).toBe(true)
  })
})
