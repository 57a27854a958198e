/** Unknown body fields are 400 naming them on the core's payloads, as the OpenAPI document promises. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let admin: ReturnType<typeof api>
let anonymous: ReturnType<typeof api>

beforeAll(async () => {
  server = await startServer()
  admin = api(server, server.adminToken)
  anonymous = api(server)
})
afterAll(() => server?.stop())

describe("unknown body fields", () => {
  it("are refused on operator, lifecycle and registration payloads, changing nothing", async () => {
    const tokens = (await admin.get("/api/v1/operators/tokens")).body.total
    const token = await admin.post("/api/v1/operators/tokens", { name: "x", role: "viewer", expires: "never" })
    expect(token.status).toBe(400)
    expect(token.body).toMatchObject({ error: "bad_request", details: { fields: ["expires"] } })
    expect(token.body.message).toMatch(/^expires: /)
    expect((await admin.get("/api/v1/operators/tokens")).body.total).toBe(tokens)

    const registered = await anonymous.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "strict-1" })
    const id = registered.body.machine.id
    const approve = await admin.post(`/api/v1/machines/${id}/approve`, { reason: "ok", force: true })
    expect(approve.status).toBe(400)
    expect(approve.body.message).toMatch(/^force: /)
    expect((await admin.get(`/api/v1/machines/${id}`)).body.status).toBe("pending_approval")

    // Registration's schema lives elsewhere; the rule applies to every payload of the API.
    const register = await anonymous.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "strict-2", hostnme: "typo" })
    expect(register.status).toBe(400)
    expect(register.body.message).toMatch(/^hostnme: /)
    // Free-form maps stay free-form.
    const hardware = await anonymous.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "strict-3", hardware: { anything: 1 } })
    expect(hardware.status).toBeLessThan(300)
  })
})
