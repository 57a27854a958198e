/** secret_vault through HTTP: machine secrets (both delivery schemes), shared secrets, access rules, events. */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { startTpmMachine, type TpmMachine } from "../../../test-support/tpmMachine.js"

let server: TestServer
let admin: ReturnType<typeof api>
let tpm: TpmMachine
/** A machine with a TPM, enrolled, approved and attested: `session` is its token. */
let tpmMachine: { id: string; fingerprint: string; session: string }
/** Approved machines registered by PEM only: they authenticate by header (compatibility mode). */
let plainA: { id: string; fingerprint: string }
let plainB: { id: string; fingerprint: string }

const registerPlain = async (hostname: string) => {
  const r = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname })
  await admin.post(`/api/v1/machines/${r.body.machine.id}/approve`)
  return { id: r.body.machine.id as string, fingerprint: r.body.machine.ek_fingerprint as string }
}
const asHeader = (machine: { fingerprint: string }) => ({ "x-ek-fingerprint": machine.fingerprint })

beforeAll(async () => {
  tpm = await startTpmMachine()
  server = await startServer({
    extensions: [secretVault],
    env: { ITL_MACHINE_AUTH: "ek-fingerprint-header", ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") }
  })
  admin = api(server, server.adminToken)
  const anonymous = api(server)
  const registered = await anonymous.post("/api/v1/machines/register", { ek_public: tpm.ekPublic, ak_public: tpm.akPublic, hostname: "vault-tpm" })
  const id = registered.body.machine.id
  await anonymous.post(`/api/v1/machines/${id}/activate`, { secret: await tpm.activate(registered.body.challenge.credential_file) })
  await admin.post(`/api/v1/machines/${id}/approve`)
  const challenge = (await anonymous.post("/api/v1/attest/challenge", { machine_id: id })).body
  const attested = await anonymous.post("/api/v1/attest", { machine_id: id, ...(await tpm.quote(challenge.nonce, challenge.pcr_selection)) })
  tpmMachine = { id, fingerprint: registered.body.machine.ek_fingerprint, session: attested.body.session_token }
  plainA = await registerPlain("vault-a")
  plainB = await registerPlain("vault-b")
}, 120_000)
afterAll(async () => {
  await server?.stop()
  await tpm?.stop()
})

const allStoredText = async () => JSON.stringify([await server.sql("SELECT * FROM events"), await server.sql("SELECT * FROM audit_log")])

describe("extension", () => {
  it("is listed as secret_vault 2.0.0", async () => {
    const list = await api(server).get("/api/v1/extensions")
    expect(list.body.extensions).toContainEqual({
      name: "secret_vault",
      version: "2.0.0",
      description: "TPM-bound secret storage for attested machines + shared secrets"
    })
  })
})

describe("machine secrets", () => {
  it("creates, lists metadata only, and refuses duplicates and bad input", async () => {
    const created = await admin.post(`/api/v1/secrets/machines/${tpmMachine.id}/secrets`, { name: "disk-key", value: "s3cr3t-disk" })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ machine_id: tpmMachine.id, name: "disk-key", created_by: "bootstrap-admin", access_count: 0 })
    expect(created.body.key_id).toMatch(/^mk-/)
    expect(JSON.stringify(created.body)).not.toContain("s3cr3t-disk")
    const listed = await admin.get(`/api/v1/secrets/machines/${tpmMachine.id}/secrets`)
    expect(listed.body.total).toBe(1)
    expect(JSON.stringify(listed.body)).not.toContain("s3cr3t-disk")
    const stored = await server.sql<{ encrypted_value: Buffer }>("SELECT encrypted_value FROM extension_secrets")
    expect(Buffer.from(stored[0]!.encrypted_value).toString()).not.toContain("s3cr3t")

    expect((await admin.post(`/api/v1/secrets/machines/${tpmMachine.id}/secrets`, { name: "disk-key", value: "x" })).status).toBe(409)
    const badName = await admin.post(`/api/v1/secrets/machines/${tpmMachine.id}/secrets`, { name: "no spaces", value: "x" })
    expect(badName.status).toBe(400)
    expect(badName.body.message).toMatch(/^name: /)
    expect((await admin.post(`/api/v1/secrets/machines/${tpmMachine.id}/secrets`, { name: "a".repeat(129), value: "x" })).status).toBe(400)
    const huge = await admin.post(`/api/v1/secrets/machines/${tpmMachine.id}/secrets`, { name: "big", value: "x".repeat(64 * 1024 + 1) })
    expect(huge.status).toBe(413)
    expect(huge.body.message).toMatch(/^value: /)
    expect((await admin.post(`/api/v1/secrets/machines/${tpmMachine.id}/secrets`, { name: "max", value: "x".repeat(64 * 1024) })).status).toBe(201)
    expect((await admin.post("/api/v1/secrets/machines/not-a-uuid/secrets", { name: "n", value: "v" })).status).toBe(400)
    expect((await admin.post(`/api/v1/secrets/machines/${crypto.randomUUID()}/secrets`, { name: "n", value: "v" })).status).toBe(404)
    expect((await api(server).post(`/api/v1/secrets/machines/${tpmMachine.id}/secrets`, { name: "n", value: "v" })).status).toBe(401)
    expect(await allStoredText()).not.toContain("s3cr3t-disk")
  })

  it("delivers a value only the machine's TPM can open (tpm2-credential-v1)", async () => {
    const response = await api(server, tpmMachine.session).get(`/api/v1/secrets/machines/${tpmMachine.id}/secrets/disk-key`)
    expect(response.status, response.text).toBe(200)
    expect(response.body.scheme).toBe("tpm2-credential-v1")
    expect(response.text).not.toContain("s3cr3t-disk")
    const key = Buffer.from(await tpm.activate(response.body.credential_file), "base64")
    expect(key).toHaveLength(32)
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(response.body.nonce, "base64"))
    decipher.setAAD(Buffer.from("disk-key"))
    decipher.setAuthTag(Buffer.from(response.body.tag, "base64"))
    const value = Buffer.concat([decipher.update(Buffer.from(response.body.ciphertext, "base64")), decipher.final()])
    expect(value.toString()).toBe("s3cr3t-disk")
  })

  it("keeps the original hkdf-ek-v1 scheme for existing clients (decrypted here with node:crypto alone)", async () => {
    await admin.post(`/api/v1/secrets/machines/${plainA.id}/secrets`, { name: "legacy", value: "for-old-clients" })
    const response = await api(server).get(`/api/v1/secrets/machines/${plainA.id}/secrets/legacy?scheme=hkdf-ek-v1`, asHeader(plainA))
    expect(response.status, response.text).toBe(200)
    const ikm = Buffer.from(plainA.fingerprint.slice("sha256:".length), "hex")
    const key = Buffer.from(crypto.hkdfSync("sha256", ikm, "ITL.ControlPlane.Attestation.SecretVault.v1", "machine-secret-encryption", 32))
    const nonce = Buffer.from(response.body.nonce, "base64")
    expect(nonce).toHaveLength(12)
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, nonce)
    decipher.setAuthTag(Buffer.from(response.body.tag, "base64"))
    const value = Buffer.concat([decipher.update(Buffer.from(response.body.encrypted_value, "base64")), decipher.final()])
    expect(value.toString()).toBe("for-old-clients")
    // Without an enrolled AK there is nothing to bind a TPM delivery to.
    const tpmScheme = await api(server).get(`/api/v1/secrets/machines/${plainA.id}/secrets/legacy`, asHeader(plainA))
    expect(tpmScheme.status).toBe(409)
    expect(tpmScheme.body.error).toBe("not_enrolled")
  })

  it("is only for that machine: another machine gets 404 without learning whether it exists", async () => {
    const other = await api(server).get(`/api/v1/secrets/machines/${plainA.id}/secrets/legacy?scheme=hkdf-ek-v1`, asHeader(plainB))
    const missing = await api(server).get(`/api/v1/secrets/machines/${plainA.id}/secrets/nothing-here?scheme=hkdf-ek-v1`, asHeader(plainB))
    expect(other.status).toBe(404)
    expect(missing.status).toBe(404)
    expect(other.body.message.replace("legacy", "X")).toBe(missing.body.message.replace("nothing-here", "X"))
    expect((await api(server).get(`/api/v1/secrets/machines/${plainA.id}/secrets/legacy`)).status).toBe(401)
    expect((await admin.get(`/api/v1/secrets/machines/${plainA.id}/secrets/legacy`)).status).toBe(401)
  })

  it("counts accesses atomically: 100 concurrent reads add exactly 100", async () => {
    const before = (await admin.get(`/api/v1/secrets/machines/${plainA.id}/secrets`)).body.secrets[0].access_count
    const reads = await Promise.all(
      Array.from({ length: 100 }, () => api(server).get(`/api/v1/secrets/machines/${plainA.id}/secrets/legacy?scheme=hkdf-ek-v1`, asHeader(plainA)))
    )
    expect(reads.every((r) => r.status === 200)).toBe(true)
    const after = (await admin.get(`/api/v1/secrets/machines/${plainA.id}/secrets`)).body.secrets[0]
    expect(after.access_count).toBe(before + 100)
    expect(after.last_accessed_at).not.toBeNull()
  })

  it("records events and audit rows without values, and deletes", async () => {
    const secret = (await admin.get(`/api/v1/secrets/machines/${plainA.id}/secrets`)).body.secrets[0]
    const types = await server.sql<{ event_type: string }>("SELECT DISTINCT event_type FROM events WHERE event_type LIKE 'secret.%'")
    expect(types.map((t) => t.event_type).sort()).toEqual(["secret.accessed", "secret.created"])
    expect((await admin.delete(`/api/v1/secrets/${secret.secret_id}`)).status).toBe(204)
    expect((await admin.delete(`/api/v1/secrets/${secret.secret_id}`)).status).toBe(404)
    expect((await admin.get(`/api/v1/audit?target_id=${secret.secret_id}&action=secret.deleted`)).body.total).toBe(1)
    expect(await allStoredText()).not.toContain("for-old-clients")
  })

  it("goes with its machine when the machine is deleted", async () => {
    const doomed = await registerPlain("vault-doomed")
    await admin.post(`/api/v1/secrets/machines/${doomed.id}/secrets`, { name: "k", value: "v" })
    await admin.delete(`/api/v1/machines/${doomed.id}`)
    expect(await server.sql("SELECT * FROM extension_secrets WHERE machine_id = $1", [doomed.id])).toEqual([])
  })
})

describe("shared secrets", () => {
  let id: string

  it("creates, lists and describes without values", async () => {
    const created = await admin.post("/api/v1/shared-secrets", { name: "db-password", value: "hunter2-shared", description: "primary DB" })
    expect(created.status).toBe(201)
    id = created.body.shared_secret_id
    expect(created.body).toMatchObject({
      name: "db-password", description: "primary DB", created_by: "bootstrap-admin", last_rotated_at: null, authorized_machine_count: 0
    })
    expect(created.body.encryption_key_id).toMatch(/^master-key:v1:[0-9a-f]{16}$/)
    expect((await admin.post("/api/v1/shared-secrets", { name: "db-password", value: "x" })).status).toBe(409)
    const list = await admin.get("/api/v1/shared-secrets")
    expect(list.body).toMatchObject({ total: 1, secrets: [{ shared_secret_id: id }] })
    const details = await admin.get(`/api/v1/shared-secrets/${id}`)
    expect(Object.keys(details.body).sort()).toEqual(
      ["authorized_machine_count", "created_at", "created_by", "description", "encryption_key_id", "last_rotated_at", "name", "shared_secret_id"]
    )
    expect(JSON.stringify([list.body, details.body])).not.toContain("hunter2")
    expect((await admin.get("/api/v1/shared-secrets/not-a-uuid")).status).toBe(400)
    expect((await admin.get(`/api/v1/shared-secrets/${crypto.randomUUID()}`)).status).toBe(404)
  })

  it("serves the value only to machines with a grant (the documented curl call in compatibility mode)", async () => {
    const byName = (machine: { fingerprint: string }, name = "db-password") =>
      fetch(`${server.url}/api/v1/shared-secrets/by-name/${name}/value`, { headers: { "X-EK-Fingerprint": machine.fingerprint } })
    expect((await byName(plainA)).status).toBe(403)
    const granted = await admin.post(`/api/v1/shared-secrets/${id}/access`, { machine_ids: [plainA.id, tpmMachine.id] })
    expect(granted.body.total).toBe(2)
    expect(granted.body.access_grants.map((g: any) => g.hostname).sort()).toEqual(["vault-a", "vault-tpm"])
    const response = await byName(plainA)
    expect(response.status).toBe(200)
    const body = await response.json()
    expect(body).toMatchObject({ name: "db-password", value: "hunter2-shared" })
    expect(Date.parse(body.accessed_at)).not.toBeNaN()
    expect((await byName(plainB)).status).toBe(403)
    expect((await byName(plainA, "no-such-secret")).status).toBe(404)
    const viaSession = await api(server, tpmMachine.session).get("/api/v1/shared-secrets/by-name/db-password/value")
    expect(viaSession.body.value).toBe("hunter2-shared")
    expect((await admin.get(`/api/v1/shared-secrets/${id}`)).body.authorized_machine_count).toBe(2)
    const unknown = await admin.post(`/api/v1/shared-secrets/${id}/access`, { machine_ids: [crypto.randomUUID()] })
    expect(unknown.status).toBe(404)
    expect((await admin.post(`/api/v1/shared-secrets/${id}/access`, { machine_ids: [] })).status).toBe(400)
  })

  it("counts grant accesses atomically under 100 concurrent reads", async () => {
    const grantOf = async () => (await admin.get(`/api/v1/shared-secrets/${id}/access`)).body.access_grants.find((g: any) => g.machine_id === plainA.id)
    const before = (await grantOf()).access_count
    const reads = await Promise.all(Array.from({ length: 100 }, () => api(server).get("/api/v1/shared-secrets/by-name/db-password/value", asHeader(plainA))))
    expect(reads.every((r) => r.status === 200)).toBe(true)
    expect((await grantOf()).access_count).toBe(before + 100)
  })

  it("rotates the value, updates the description, revokes grants, and deletes with its grants", async () => {
    expect((await admin.put(`/api/v1/shared-secrets/${id}`, {})).status).toBe(400)
    const described = await admin.put(`/api/v1/shared-secrets/${id}`, { description: "replica too" })
    expect(described.body).toMatchObject({ description: "replica too", last_rotated_at: null })
    const rotated = await admin.put(`/api/v1/shared-secrets/${id}`, { value: "hunter3-rotated" })
    expect(rotated.body.last_rotated_at).not.toBeNull()
    expect((await api(server).get("/api/v1/shared-secrets/by-name/db-password/value", asHeader(plainA))).body.value).toBe("hunter3-rotated")
    const revoked = await admin.delete(`/api/v1/shared-secrets/${id}/access`, { machine_ids: [plainA.id] })
    expect(revoked.body.access_grants.map((g: any) => g.machine_id)).toEqual([tpmMachine.id])
    expect((await api(server).get("/api/v1/shared-secrets/by-name/db-password/value", asHeader(plainA))).status).toBe(403)
    const types = await server.sql<{ event_type: string }>("SELECT DISTINCT event_type FROM events WHERE event_type LIKE 'shared_secret.%' ORDER BY 1")
    expect(types.map((t) => t.event_type)).toEqual([
      "shared_secret.access_granted", "shared_secret.access_revoked", "shared_secret.accessed", "shared_secret.created", "shared_secret.rotated"
    ])
    expect((await admin.delete(`/api/v1/shared-secrets/${id}`)).status).toBe(204)
    expect(await server.sql("SELECT * FROM extension_shared_secret_access WHERE shared_secret_id = $1", [id])).toEqual([])
    expect((await api(server).get("/api/v1/shared-secrets/by-name/db-password/value", asHeader(tpmMachine))).status).toBe(404)
    expect(await allStoredText()).not.toMatch(/hunter[23]/)
  })

  it("needs operator roles: a viewer reads metadata but cannot change anything", async () => {
    const viewer = (await admin.post("/api/v1/operators/tokens", { name: "vault-viewer", role: "viewer" })).body.token
    expect((await api(server, viewer).get("/api/v1/shared-secrets")).status).toBe(200)
    expect((await api(server, viewer).post("/api/v1/shared-secrets", { name: "nope", value: "v" })).status).toBe(403)
    expect((await api(server, viewer).post("/api/v1/shared-secrets/rewrap")).status).toBe(403)
  })
})

describe("an operator token on the machine endpoints", () => {
  it("is told that the machine reads its secrets itself, and what operators use instead", async () => {
    const read = await admin.get(`/api/v1/secrets/machines/${tpmMachine.id}/secrets/any-name`)
    expect(read.status).toBe(401)
    expect(read.body.error).toBe("machine_session_required")
    expect(read.body.message).toMatch(/^this endpoint is called by a machine with its own session token \(`attestation agent attest`/)
    expect(read.body.details.operator_alternative).toBe(
      "GET /api/v1/secrets/machines/{id}/secrets to list a machine's secrets, without values (`attestation secret list <machine-id>`)"
    )
    expect(read.body.message).toContain(`operators use ${read.body.details.operator_alternative}`)

    const shared = await admin.get("/api/v1/shared-secrets/by-name/any-name/value")
    expect(shared.status).toBe(401)
    expect(shared.body.error).toBe("machine_session_required")
    expect(shared.body.details.operator_alternative).toMatch(/^GET \/api\/v1\/shared-secrets and GET \/api\/v1\/shared-secrets\/\{id\}\/access /)
  })
})
