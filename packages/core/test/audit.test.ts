import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

/** Polls until `check` holds (bounded): sealing runs in the background. */
const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

let server: TestServer
let admin: ReturnType<typeof api>

beforeAll(async () => {
  server = await startServer()
  admin = api(server, server.adminToken)
  for (let i = 0; i < 4; i++) {
    const id = (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: `audit-${i}` })).body.machine.id
    await admin.post(`/api/v1/machines/${id}/approve`, { reason: `batch ${i}` })
  }
  // Rows are sealed by the background sealer shortly after their commit.
  await until(async () => (await admin.get("/api/v1/audit/verify")).body.pending === 0, "the audit rows to be sealed")
})
afterAll(() => server?.stop())

describe("audit log", () => {
  it("lists entries newest first with filters and pagination", async () => {
    const all = await admin.get("/api/v1/audit?limit=500")
    expect(all.status).toBe(200)
    expect(all.body.total).toBe(8)
    expect(all.body.entries.map((e: any) => e.id)).toEqual([8, 7, 6, 5, 4, 3, 2, 1])
    const approvals = await admin.get("/api/v1/audit?action=machine.approved")
    expect(approvals.body.total).toBe(4)
    expect(approvals.body.entries.every((e: any) => e.actor === "bootstrap-admin" && e.actor_kind === "operator")).toBe(true)
    const byMachine = await admin.get("/api/v1/audit?actor_kind=x&actor=bootstrap-admin&limit=2&offset=1")
    expect(byMachine.body).toMatchObject({ total: 4, limit: 2, offset: 1 })
    expect(byMachine.body.entries).toHaveLength(2)
    const future = await admin.get("/api/v1/audit?since=2999-01-01T00:00:00Z")
    expect(future.body.total).toBe(0)
    const bad = await admin.get("/api/v1/audit?since=yesterday")
    expect(bad.status).toBe(400)
    expect(bad.body.message).toContain("since")
  })

  it("chains every row to the previous one and verifies", async () => {
    const entries = (await admin.get("/api/v1/audit?limit=500")).body.entries.reverse()
    expect(entries[0].prev_hash).toBe("0".repeat(64))
    for (let i = 1; i < entries.length; i++) expect(entries[i].prev_hash).toBe(entries[i - 1].hash)
    const verify = await admin.get("/api/v1/audit/verify")
    expect(verify.body).toEqual({ valid: true, entries: 8, first_invalid_id: null, sealed: 8, pending: 0 })
  })

  it("is append-only for the application's database role", async () => {
    await expect(server.sql("UPDATE audit_log SET actor = 'mallory' WHERE id = 3")).rejects.toThrow()
    await expect(server.sql("DELETE FROM audit_log WHERE id = 3")).rejects.toThrow()
  })

  it("detects a row rewritten by someone who bypassed the trigger but lacks the key", async () => {
    await server.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    const [row] = await server.sql<{ details: unknown }>("SELECT details FROM audit_log WHERE id = 4")
    await server.sql(`UPDATE audit_log SET details = '{"reason": "nothing to see"}'::jsonb WHERE id = 4`)
    expect((await admin.get("/api/v1/audit/verify")).body).toEqual({ valid: false, entries: 8, first_invalid_id: 4, sealed: 8, pending: 0 })
    // Restoring the exact content restores validity: the check is over content, not row versions.
    await server.sql("UPDATE audit_log SET details = $1::jsonb WHERE id = 4", [JSON.stringify(row!.details)])
    expect((await admin.get("/api/v1/audit/verify")).body.valid).toBe(true)
    // Recomputing a plain SHA-256 chain (no key) does not help a forger.
    await server.sql("UPDATE audit_log SET actor = 'mallory', hash = encode(sha256(convert_to(prev_hash || 'x', 'UTF8')), 'hex') WHERE id = 6")
    const afterForgery = (await admin.get("/api/v1/audit/verify")).body
    expect(afterForgery).toMatchObject({ valid: false, first_invalid_id: 6 })
  })

  it("detects a deleted row", async () => {
    await server.sql("DELETE FROM audit_log WHERE id = 2")
    expect((await admin.get("/api/v1/audit/verify")).body).toMatchObject({ valid: false, first_invalid_id: 2 })
  })

  it("needs an operator token", async () => {
    expect((await api(server).get("/api/v1/audit")).status).toBe(401)
    expect((await api(server).get("/api/v1/audit/verify")).status).toBe(401)
  })
})
