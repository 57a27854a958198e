/** Authorization before validation, for every operator endpoint of the core (enumerated from /openapi.json). */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authorizationViolations } from "../../../test-support/authorizationMatrix.js"
import { api, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server?.stop())

describe("authorize first", () => {
  it("answers a caller without the role 401/403 before looking at the input, on every operator endpoint", async () => {
    const { operations, violations } = await authorizationViolations(server)
    expect(violations).toEqual([])
    // The document is the source: the core's operator endpoints are all there.
    expect(operations.length).toBeGreaterThanOrEqual(19)
    expect(operations.find((o) => o.method === "DELETE" && o.path === "/api/v1/machines/{id}")?.role).toBe("admin")
    expect(operations.find((o) => o.method === "POST" && o.path === "/api/v1/machines/{id}/approve")?.role).toBe("operator")
  })

  it("a viewer sending a bad machine id to an operator endpoint gets 403, not 400", async () => {
    const viewer = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "probe", role: "viewer" })
    const response = await api(server, viewer.body.token).post("/api/v1/machines/not-a-uuid/approve", { reason: 42 })
    expect(response.status).toBe(403)
    expect(response.body).toMatchObject({ error: "forbidden" })
  })
})
