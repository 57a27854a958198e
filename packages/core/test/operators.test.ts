import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let admin: ReturnType<typeof api>

beforeAll(async () => {
  server = await startServer()
  admin = api(server, server.adminToken)
})
afterAll(() => server?.stop())

describe("operator tokens", () => {
  it("creates a token shown once, stored only as a hash", async () => {
    const created = await admin.post("/api/v1/operators/tokens", { name: "deploy-bot", role: "operator" })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ name: "deploy-bot", role: "operator", created_by: "bootstrap-admin", revoked_at: null })
    expect(created.body.token).toMatch(/^itl_op_[A-Za-z0-9_-]{43}$/)
    const stored = await server.sql<{ token_hash: string }>("SELECT token_hash FROM operator_tokens WHERE id = $1", [created.body.id])
    expect(stored[0]!.token_hash).not.toContain(created.body.token)
    const listed = await admin.get("/api/v1/operators/tokens")
    const entry = listed.body.tokens.find((t: any) => t.id === created.body.id)
    expect(entry).toBeDefined()
    expect(entry.token).toBeUndefined()
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token)
  })

  it("records last use, and a revoked token stops working at once", async () => {
    const created = await admin.post("/api/v1/operators/tokens", { name: "temp", role: "viewer" })
    const asTemp = api(server, created.body.token)
    expect((await asTemp.get("/api/v1/machines")).status).toBe(200)
    const used = (await admin.get("/api/v1/operators/tokens")).body.tokens.find((t: any) => t.id === created.body.id)
    expect(used.last_used_at).not.toBeNull()
    const revoked = await admin.delete(`/api/v1/operators/tokens/${created.body.id}`)
    expect(revoked.status).toBe(200)
    expect(revoked.body.revoked_at).not.toBeNull()
    const denied = await asTemp.get("/api/v1/machines")
    expect(denied.status).toBe(401)
    expect(denied.headers.get("www-authenticate")).toMatch(/^Bearer/)
    const audit = await admin.get(`/api/v1/audit?target_type=operator_token&target_id=${created.body.id}`)
    expect(audit.body.entries.map((e: any) => e.action)).toEqual(["operator_token.revoked", "operator_token.created"])
    expect(JSON.stringify(audit.body)).not.toContain(created.body.token)
  })

  it("is for admins only", async () => {
    const operator = await admin.post("/api/v1/operators/tokens", { name: "op", role: "operator" })
    const asOperator = api(server, operator.body.token)
    expect((await asOperator.get("/api/v1/operators/tokens")).status).toBe(403)
    expect((await asOperator.post("/api/v1/operators/tokens", { name: "escalate", role: "admin" })).status).toBe(403)
    expect((await asOperator.delete(`/api/v1/operators/tokens/${operator.body.id}`)).status).toBe(403)
  })

  it("rejects bad input naming the field and changes nothing", async () => {
    const before = (await admin.get("/api/v1/operators/tokens")).body.total
    const badRole = await admin.post("/api/v1/operators/tokens", { name: "x", role: "root" })
    expect(badRole.status).toBe(400)
    expect(badRole.body.message).toMatch(/^role: /)
    const noName = await admin.post("/api/v1/operators/tokens", { role: "viewer" })
    expect(noName.status).toBe(400)
    expect(noName.body.message).toMatch(/^name: /)
    expect((await admin.delete("/api/v1/operators/tokens/nope")).status).toBe(400)
    expect((await admin.delete("/api/v1/operators/tokens/00000000-0000-4000-8000-000000000000")).status).toBe(404)
    expect((await admin.get("/api/v1/operators/tokens")).body.total).toBe(before)
  })
})
