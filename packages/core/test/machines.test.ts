import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { rsaKeyPair, rsaTpm2bPublic } from "../../../test-support/tpmFixtures.js"

let server: TestServer
let admin: ReturnType<typeof api>
let anonymous: ReturnType<typeof api>

beforeAll(async () => {
  server = await startServer()
  admin = api(server, server.adminToken)
  anonymous = api(server)
})
afterAll(() => server?.stop())

let hostCounter = 0
/** The answer, with the hostname sent (registration does not echo the record back to an unauthenticated caller). */
const register = async (overrides: Record<string, unknown> = {}) => {
  const body = { ek_public: fakeEkPem(), hostname: `host-${++hostCounter}.example.test`, hardware: { cpu: "x86_64", memory_gb: 16 }, ...overrides }
  const response = await anonymous.post("/api/v1/machines/register", body)
  return Object.assign(response, { hostname: body.hostname as string })
}

describe("registration", () => {
  it("names a new machine by the SHA-256 of its EK's DER SubjectPublicKeyInfo and starts it pending", async () => {
    const { publicKey } = rsaKeyPair()
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString()
    const expected = "sha256:" + crypto.createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex")
    const response = await register({ ek_public: pem })
    expect(response.status).toBe(201)
    expect(response.body.created).toBe(true)
    expect(response.body.machine).toMatchObject({ ek_fingerprint: expected, status: "pending_approval", ek_verified: false })
    const stored = await admin.get(`/api/v1/machines/${response.body.machine.id}`)
    expect(stored.body.hardware).toEqual({ cpu: "x86_64", memory_gb: 16 })
  })

  it("accepts the EK as a base64 TPM2B_PUBLIC and computes the same fingerprint as for its PEM", async () => {
    const { publicKey } = rsaKeyPair()
    const tpm = await register({ ek_public: rsaTpm2bPublic(publicKey).toString("base64") })
    expect(tpm.status).toBe(201)
    const expected = "sha256:" + crypto.createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex")
    expect(tpm.body.machine.ek_fingerprint).toBe(expected)
    // The same key in PEM is the same machine.
    const again = await register({ ek_public: publicKey.export({ type: "spki", format: "pem" }), hostname: tpm.hostname })
    expect(again.body).toMatchObject({ created: false, machine: { id: tpm.body.machine.id } })
  })

  it("is idempotent for a known EK and never changes its status", async () => {
    const pem = fakeEkPem()
    const first = await register({ ek_public: pem })
    const id = first.body.machine.id
    expect((await admin.post(`/api/v1/machines/${id}/approve`)).status).toBe(200)
    const again = await register({ ek_public: pem, hostname: first.hostname, hardware: { changed: true } })
    expect(again.status).toBe(200)
    expect(again.body.created).toBe(false)
    expect(again.body.machine).toMatchObject({ id, status: "approved" })
    expect((await admin.get(`/api/v1/machines/${id}`)).body.hardware).toEqual({ cpu: "x86_64", memory_gb: 16 })
  })

  it("refuses a hostname already bound to another EK, and changes nothing", async () => {
    const first = await register()
    const before = await admin.get(`/api/v1/machines?hostname=${first.hostname}`)
    const takeover = await register({ hostname: first.hostname })
    expect(takeover.status).toBe(409)
    expect(takeover.body).toMatchObject({ error: "hostname_taken" })
    expect(takeover.body.message).toContain(first.hostname)
    const after = await admin.get(`/api/v1/machines?hostname=${first.hostname}`)
    expect(after.body.total).toBe(before.body.total)
  })

  it("accepts an EK certificate only when it certifies the same key", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-ekcert-"))
    const certFor = (name: string) => {
      const { privateKey, publicKey } = rsaKeyPair()
      fs.writeFileSync(path.join(dir, `${name}.key`), privateKey.export({ type: "pkcs8", format: "pem" }))
      execFileSync("openssl", ["req", "-x509", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-days", "1", "-out", `${name}.pem`], { cwd: dir, stdio: "pipe" })
      return { publicKey, cert: fs.readFileSync(path.join(dir, `${name}.pem`), "utf8") }
    }
    const mine = certFor("mine")
    const other = certFor("other")
    const ek_public = mine.publicKey.export({ type: "spki", format: "pem" })
    const mismatched = await register({ ek_public, ek_certificate: other.cert })
    expect(mismatched.status).toBe(400)
    expect(mismatched.body.message).toBe("ek_certificate: certifies a different public key than ek_public")
    const garbage = await register({ ek_public, ek_certificate: "not a certificate" })
    expect(garbage.status).toBe(400)
    expect(garbage.body.message).toMatch(/^ek_certificate: /)
    const der = new crypto.X509Certificate(mine.cert).raw.toString("base64")
    const accepted = await register({ ek_public, ek_certificate: der })
    expect(accepted.status).toBe(201)
    expect((await admin.get(`/api/v1/machines/${accepted.body.machine.id}`)).body.has_ek_certificate).toBe(true)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it.each([
    [{ ek_public: "" }, "ek_public"],
    [{ ek_public: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" }, "ek_public"],
    [{ ek_public: "AAEC" }, "ek_public"],
    [{ hostname: "bad host name" }, "hostname"],
    [{ hostname: undefined }, "hostname"],
    [{ hardware: "not an object" }, "hardware"]
  ])("rejects bad input %j with a 400 naming the field", async (overrides, field) => {
    const before = (await admin.get("/api/v1/machines?limit=1")).body.total
    const response = await register(overrides)
    expect(response.status).toBe(400)
    expect(response.body.error).toBe("bad_request")
    expect(response.body.message).toContain(field)
    expect((await admin.get("/api/v1/machines?limit=1")).body.total).toBe(before)
  })

  it("answers an unauthenticated caller only what a machine needs, even for a known, approved EK", async () => {
    const pem = fakeEkPem()
    const first = await register({ ek_public: pem, hardware: { serial: "S-1" } })
    await admin.post(`/api/v1/machines/${first.body.machine.id}/approve`, { reason: "racked" })
    const again = await register({ ek_public: pem, hostname: first.hostname })
    expect(again.status).toBe(200)
    expect(Object.keys(again.body.machine).sort()).toEqual(["ek_cert_verified", "ek_fingerprint", "ek_verified", "id", "status"])
    expect(again.body.machine.status).toBe("approved")
    for (const leaked of ["approved_by", "hardware", "hostname", "status_reason", "S-1", "racked"]) expect(again.text).not.toContain(leaked)
  })

  it.each([
    ["too deep", { a: { b: { c: { d: { e: 1 } } } } }, /^hardware: must not nest .* more than 4 levels/],
    ["too deep in an array", { a: [[[[1]]]] }, /^hardware: must not nest/],
    ["too many keys", Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, i])), /^hardware: must not have more than 256 keys/],
    ["too large", { blob: "x".repeat(16 * 1024) }, /^hardware: must be at most 16384 bytes as JSON/]
  ])("caps hardware (%s): 400 naming the field, nothing stored", async (_, hardware, message) => {
    const before = (await admin.get("/api/v1/machines?limit=1")).body.total
    const response = await register({ hardware })
    expect(response.status, response.text).toBe(400)
    expect(response.body.message).toMatch(message)
    expect((await admin.get("/api/v1/machines?limit=1")).body.total).toBe(before)
  })

  it("accepts hardware at the limits", async () => {
    const response = await register({ hardware: { a: { b: { c: { d: 1 } } }, blob: "x".repeat(16 * 1024 - 100) } })
    expect(response.status, response.text).toBe(201)
  })

  it("limits new EKs per client address (429 with Retry-After); known EKs are not counted", async () => {
    const limited = await startServer({ env: { ITL_REGISTRATION_LIMIT: "2" } })
    try {
      const client = api(limited)
      const pem = fakeEkPem()
      const first = await client.post("/api/v1/machines/register", { ek_public: pem, hostname: "limited-1" })
      expect(first.status).toBe(201)
      expect((await client.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "limited-2" })).status).toBe(201)
      const third = await client.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "limited-3" })
      expect(third.status).toBe(429)
      expect(third.body.error).toBe("too_many_requests")
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0)
      expect((await api(limited, limited.adminToken).get("/api/v1/machines?hostname=limited-3")).body.total).toBe(0)
      const known = await client.post("/api/v1/machines/register", { ek_public: pem, hostname: "limited-1" })
      expect(known.status).toBe(200)
    } finally {
      await limited.stop()
    }
  })

  it("answers malformed JSON with a 400 and an oversized body with a 413", async () => {
    const malformed = await anonymous.call("POST", "/api/v1/machines/register", "{not json", { "content-type": "application/json" })
    expect(malformed.status).toBe(400)
    expect(malformed.body).toMatchObject({ error: "bad_request" })
    const huge = await register({ hardware: { blob: "x".repeat(2 * 1024 * 1024) } })
    expect(huge.status).toBe(413)
    expect(huge.body).toMatchObject({ error: "payload_too_large" })
  })
})

describe("lifecycle", () => {
  const create = async () => (await register()).body.machine.id as string
  const act = (id: string, action: string, body: unknown = {}) => admin.post(`/api/v1/machines/${id}/${action}`, body)

  it("approve records who approved; lock remembers the status; unlock restores it", async () => {
    const id = await create()
    const approved = await act(id, "approve")
    expect(approved.body).toMatchObject({ status: "approved", approved_by: "bootstrap-admin" })
    expect(approved.body.approved_at).not.toBeNull()
    expect((await act(id, "lock", { reason: "maintenance" })).body).toMatchObject({ status: "locked", status_reason: "maintenance" })
    expect((await act(id, "unlock")).body.status).toBe("approved")
    expect((await act(id, "revoke")).body.status).toBe("revoked")
  })

  it("refuses every illegal transition with a 409 naming the current status", async () => {
    const pending = await create()
    for (const action of ["lock", "unlock"]) {
      const response = await act(pending, action)
      expect(response.status).toBe(409)
      expect(response.body).toMatchObject({ error: "invalid_transition", details: { current_status: "pending_approval" } })
      expect(response.body.message).toContain("pending_approval")
    }
    const rejected = await create()
    expect((await act(rejected, "reject")).body.status).toBe("rejected")
    for (const action of ["approve", "reject", "lock", "unlock"]) {
      expect((await act(rejected, action)).status).toBe(409)
    }
    expect((await act(rejected, "revoke")).body.status).toBe("revoked")
    for (const action of ["approve", "reject", "lock", "unlock", "revoke"]) {
      const response = await act(rejected, action)
      expect(response.status).toBe(409)
      expect(response.body.message).toContain("revoked")
    }
    const approved = await create()
    await act(approved, "approve")
    expect((await act(approved, "approve")).status).toBe(409)
    expect((await act(approved, "unlock")).status).toBe(409)
  })

  it("writes one audit row and one event per change, in the same transaction", async () => {
    const id = await create()
    await act(id, "approve")
    await act(id, "lock", { reason: "suspicious" })
    const audit = await admin.get(`/api/v1/audit?target_type=machine&target_id=${id}`)
    expect(audit.body.entries.map((e: any) => e.action)).toEqual(["machine.locked", "machine.approved", "machine.registered"])
    expect(audit.body.entries[0]).toMatchObject({ actor: "bootstrap-admin", actor_kind: "operator", details: { reason: "suspicious", previous_status: "approved" } })
    const events = await server.sql<{ event_type: string }>("SELECT event_type FROM events WHERE machine_id = $1 ORDER BY seq", [id])
    expect(events.map((e) => e.event_type)).toEqual(["machine.registered", "machine.approved", "machine.locked"])
  })

  it("a failed transition writes neither audit row nor event", async () => {
    const id = await create()
    const before = await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM events")
    const auditBefore = await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM audit_log")
    expect((await act(id, "unlock")).status).toBe(409)
    expect(await server.sql("SELECT count(*)::int AS n FROM events")).toEqual(before)
    expect(await server.sql("SELECT count(*)::int AS n FROM audit_log")).toEqual(auditBefore)
  })

  it("concurrent transitions on one machine serialise: exactly one approve wins", async () => {
    const id = await create()
    const results = await Promise.all(Array.from({ length: 8 }, () => act(id, "approve")))
    expect(results.filter((r) => r.status === 200)).toHaveLength(1)
    expect(results.filter((r) => r.status === 409)).toHaveLength(7)
  })

  it("delete removes the machine (admin only) and unknown or malformed ids get 404 / 400", async () => {
    const id = await create()
    expect((await admin.delete(`/api/v1/machines/${id}`)).status).toBe(204)
    expect((await admin.get(`/api/v1/machines/${id}`)).status).toBe(404)
    expect((await admin.delete(`/api/v1/machines/${id}`)).status).toBe(404)
    expect((await act(crypto.randomUUID(), "approve")).status).toBe(404)
    const malformed = await admin.get("/api/v1/machines/not-a-uuid")
    expect(malformed.status).toBe(400)
    expect(malformed.body.message).toMatch(/^id: /)
  })
})

describe("clients that disconnect", () => {
  it("leave each change whole or absent, and the journal usable", async () => {
    // Keys first: generating 20 RSA keys blocks this process (server included) for seconds, and requests sent
    // right after such a pause can meet keep-alive sockets the server is closing at that very moment.
    const keys = Array.from({ length: 20 }, () => fakeEkPem())
    const attempts = keys.map((ekPublic, i) => {
      const controller = new AbortController()
      const request = fetch(`${server.url}/api/v1/machines/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ek_public: ekPublic, hostname: `gone-${i}.example.test` }),
        signal: controller.signal
      }).catch(() => undefined)
      setTimeout(() => controller.abort(), 2 + (i % 5))
      return request
    })
    await Promise.all(attempts)
    // On a fresh connection: under heavy load fetch's pool can hand a POST an idle keep-alive socket that the
    // server closed meanwhile ("other side closed", not retried for a POST) — a client-side race, not what this tests.
    const after = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ ek_public: fakeEkPem(), hostname: "after-disconnects.example.test" })
      const request = http.request(`${server.url}/api/v1/machines/register`, { method: "POST", agent: false, headers: { "content-type": "application/json" } }, (response) => {
        response.resume()
        response.on("end", () => resolve(response.statusCode ?? 0))
      })
      request.on("error", reject)
      request.end(body)
    })
    expect(after).toBe(201)
    const orphans = await server.sql(
      `SELECT m.id FROM machines m WHERE m.hostname LIKE 'gone-%'
         AND (NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.target_id = m.id::text AND a.action = 'machine.registered')
           OR NOT EXISTS (SELECT 1 FROM events e WHERE e.machine_id = m.id AND e.event_type = 'machine.registered'))`
    )
    expect(orphans).toEqual([])
    expect((await admin.get("/api/v1/audit/verify")).body.valid).toBe(true)
  })
})

describe("listing", () => {
  it("filters by status and hostname, paginates, and reports the total", async () => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await register({ hostname: `list-${i}.example.test` })).body.machine.id)
    await admin.post(`/api/v1/machines/${ids[0]}/approve`)
    await admin.post(`/api/v1/machines/${ids[1]}/approve`)
    const approved = await admin.get("/api/v1/machines?status=approved&limit=500")
    expect(approved.body.machines.every((m: any) => m.status === "approved")).toBe(true)
    expect(approved.body.machines.map((m: any) => m.id)).toEqual(expect.arrayContaining([ids[0], ids[1]]))
    const byHost = await admin.get("/api/v1/machines?hostname=LIST-3.example.test")
    expect(byHost.body).toMatchObject({ total: 1, machines: [{ id: ids[3] }] })
    const all = await admin.get("/api/v1/machines?limit=500")
    const page1 = await admin.get("/api/v1/machines?limit=2&offset=0")
    const page2 = await admin.get("/api/v1/machines?limit=2&offset=2")
    expect(page1.body).toMatchObject({ total: all.body.total, limit: 2, offset: 0 })
    expect([...page1.body.machines, ...page2.body.machines].map((m: any) => m.id)).toEqual(all.body.machines.slice(0, 4).map((m: any) => m.id))
    for (const bad of ["status=bogus", "limit=0", "limit=501", "offset=-1", "limit=abc"]) {
      const response = await admin.get(`/api/v1/machines?${bad}`)
      expect(response.status, bad).toBe(400)
      expect(response.body.message, bad).toContain(bad.split("=")[0])
    }
  })
})

describe("authentication and roles", () => {
  it("401 with WWW-Authenticate for a missing or bad token; 403 for too small a role", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong-token" }, { authorization: "Basic dXNlcjpwYXNz" }]) {
      const response = await anonymous.get("/api/v1/machines", headers)
      expect(response.status).toBe(401)
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/)
      expect(response.body.error).toBe("unauthorized")
    }
    const viewer = await admin.post("/api/v1/operators/tokens", { name: "viewer-1", role: "viewer" })
    const operator = await admin.post("/api/v1/operators/tokens", { name: "operator-1", role: "operator" })
    const asViewer = api(server, viewer.body.token)
    const asOperator = api(server, operator.body.token)
    const id = (await register()).body.machine.id
    expect((await asViewer.get(`/api/v1/machines/${id}`)).status).toBe(200)
    const denied = await asViewer.post(`/api/v1/machines/${id}/approve`)
    expect(denied.status).toBe(403)
    expect(denied.body).toMatchObject({ error: "forbidden" })
    expect((await asOperator.delete(`/api/v1/machines/${id}`)).status).toBe(403)
    const approved = await asOperator.post(`/api/v1/machines/${id}/approve`)
    expect(approved.body).toMatchObject({ status: "approved", approved_by: "operator-1" })
  })
})
