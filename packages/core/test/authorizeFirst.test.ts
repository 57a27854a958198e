/**
 * The authorization matrix of the core (test-support/authorizationMatrix.ts),
 * generated from /openapi.json: every endpoint × every kind of caller gets the
 * status its declared policy implies, and callers without the scope get
 * 401/403 before any validation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authorizationViolations, type MatrixCallers, matrixCallers } from "../../../test-support/authorizationMatrix.js"
import { api, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let callers: MatrixCallers

beforeAll(async () => {
  server = await startServer()
  callers = await matrixCallers(server)
}, 120_000)
afterAll(async () => {
  await server?.stop()
  await callers?.machine.tpm.stop()
  await callers?.otherMachine.tpm.stop()
})

describe("authorization matrix (core)", () => {
  it("every endpoint answers every kind of caller as its declared policy implies", async () => {
    const { operations, violations } = await authorizationViolations(server, callers)
    expect(violations).toEqual([])
    // The document is the source: the core's endpoints are all there, each with its credential and scope.
    expect(operations.filter((o) => o.credential === "operator").length).toBeGreaterThanOrEqual(19)
    const find = (method: string, path: string) => operations.find((o) => o.method === method && o.path === path)
    expect(find("DELETE", "/api/v1/machines/{id}")).toMatchObject({ scopes: ["machines:admin"], role: "admin" })
    expect(find("POST", "/api/v1/machines/{id}/approve")).toMatchObject({ scopes: ["machines:write"], role: "operator" })
    expect(find("GET", "/api/v1/audit")).toMatchObject({ scopes: ["audit:read"], role: "viewer" })
    expect(find("GET", "/api/v1/machines/me")).toMatchObject({ credential: "machine", scopes: [] })
    expect(find("POST", "/api/v1/machines/register")).toMatchObject({ credential: "none" })
  }, 120_000)

  it("a viewer sending a bad machine id to an operator endpoint gets 403, not 400", async () => {
    const viewer = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "probe", role: "viewer" })
    const response = await api(server, viewer.body.token).post("/api/v1/machines/not-a-uuid/approve", { reason: 42 })
    expect(response.status).toBe(403)
    expect(response.body).toMatchObject({ error: "forbidden", details: { required_scope: "machines:write" } })
  })

  it("publishes every scope an operation requires, with its lowest role", async () => {
    const spec = (await api(server).get("/openapi.json")).body
    expect(spec["x-scopes"]).toContainEqual({ name: "machines:write", description: expect.any(String), granted_to: "operator" })
    expect(spec.paths["/api/v1/operators/tokens"].post["x-required-scope"]).toBe("operators:admin")
    expect(JSON.stringify(spec)).not.toContain("x-required-role")
  })
})
