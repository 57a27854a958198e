/** Operator tokens limited to scopes: creation rules, effective scopes, views, audit, and the mTLS-free bearer path. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let admin: ReturnType<typeof api>

beforeAll(async () => {
  server = await startServer()
  admin = api(server, server.adminToken)
})
afterAll(() => server?.stop())

const tokenCount = async () => (await admin.get("/api/v1/operators/tokens")).body.total as number

describe("scoped operator tokens", () => {
  it("a token limited to machines:read reads machines and nothing else, whatever its role", async () => {
    const created = await admin.post("/api/v1/operators/tokens", { name: "reader", role: "admin", scopes: ["machines:read"] })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ name: "reader", role: "admin", scopes: ["machines:read"] })
    const reader = api(server, created.body.token)
    expect((await reader.get("/api/v1/machines")).status).toBe(200)
    const audit = await reader.get("/api/v1/audit")
    expect(audit.status).toBe(403)
    expect(audit.body).toMatchObject({ error: "forbidden", details: { required_scope: "audit:read" } })
    expect(audit.body.message).toContain("limited to other scopes")
    expect((await reader.get("/api/v1/operators/tokens")).status).toBe(403)
    expect((await reader.delete("/api/v1/machines/00000000-0000-4000-8000-000000000000")).status).toBe(403)
  })

  it("shows scopes in token views (null: every scope of the role) and audits them at creation", async () => {
    const scoped = await admin.post("/api/v1/operators/tokens", { name: "auditor", role: "viewer", scopes: ["audit:read", "audit:read"] })
    expect(scoped.body.scopes).toEqual(["audit:read"])
    const plain = await admin.post("/api/v1/operators/tokens", { name: "plain", role: "viewer" })
    expect(plain.body.scopes).toBeNull()
    const listed = (await admin.get("/api/v1/operators/tokens?limit=100")).body.tokens
    expect(listed.find((t: any) => t.id === scoped.body.id).scopes).toEqual(["audit:read"])
    expect(listed.find((t: any) => t.id === plain.body.id).scopes).toBeNull()
    const audit = await admin.get(`/api/v1/audit?target_type=operator_token&target_id=${scoped.body.id}`)
    expect(audit.body.entries[0]).toMatchObject({ action: "operator_token.created", details: { name: "auditor", role: "viewer", scopes: ["audit:read"] } })
    const plainAudit = await admin.get(`/api/v1/audit?target_type=operator_token&target_id=${plain.body.id}`)
    expect(plainAudit.body.entries[0].details).toMatchObject({ scopes: null })
  })

  it("refuses an unknown scope and a scope beyond the token's role, naming scopes[i], and creates nothing", async () => {
    const before = await tokenCount()
    const unknown = await admin.post("/api/v1/operators/tokens", { name: "x", role: "admin", scopes: ["audit:read", "machines:fly"] })
    expect(unknown.status).toBe(400)
    expect(unknown.body.message).toMatch(/^scopes\[1\]: unknown scope "machines:fly"/)
    expect(unknown.body.details).toEqual({ field: "scopes[1]" })
    const beyond = await admin.post("/api/v1/operators/tokens", { name: "x", role: "viewer", scopes: ["machines:read", "machines:write"] })
    expect(beyond.status).toBe(400)
    expect(beyond.body.message).toMatch(/^scopes\[1\]: machines:write needs the operator role/)
    const empty = await admin.post("/api/v1/operators/tokens", { name: "x", role: "viewer", scopes: [] })
    expect(empty.status).toBe(400)
    expect(empty.body.message).toMatch(/^scopes: /)
    const notStrings = await admin.post("/api/v1/operators/tokens", { name: "x", role: "viewer", scopes: "audit:read" })
    expect(notStrings.status).toBe(400)
    expect(notStrings.body.message).toMatch(/^scopes: /)
    expect(await tokenCount()).toBe(before)
  })

  it("a token cannot hand out scopes it does not have", async () => {
    const limited = await admin.post("/api/v1/operators/tokens", { name: "token-admin", role: "admin", scopes: ["operators:admin", "audit:read"] })
    const asLimited = api(server, limited.body.token)
    const before = await tokenCount()
    const escalate = await asLimited.post("/api/v1/operators/tokens", { name: "full", role: "admin" })
    expect(escalate.status).toBe(403)
    expect(escalate.body.message).toContain("cannot create a token with scopes it does not have")
    expect(await tokenCount()).toBe(before)
    const within = await asLimited.post("/api/v1/operators/tokens", { name: "audit-only", role: "viewer", scopes: ["audit:read"] })
    expect(within.status).toBe(201)
    expect(within.body.created_by).toBe("token-admin")
  })

  it("an unscoped token keeps every scope of its role", async () => {
    const operator = await admin.post("/api/v1/operators/tokens", { name: "op", role: "operator" })
    const asOperator = api(server, operator.body.token)
    expect((await asOperator.get("/api/v1/audit")).status).toBe(200)
    expect((await asOperator.get("/api/v1/pcr-policy")).status).toBe(200)
    expect((await asOperator.delete("/api/v1/machines/00000000-0000-4000-8000-000000000000")).status).toBe(403)
  })
})
