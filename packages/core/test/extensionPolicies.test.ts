/** An extension's endpoint policies: its scopes are registered and its endpoints are in the generated matrix. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authorizationViolations, type MatrixCallers, matrixCallers } from "../../../test-support/authorizationMatrix.js"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { notesExtension } from "../../../test-support/testExtension.js"

let server: TestServer
let callers: MatrixCallers

beforeAll(async () => {
  server = await startServer({ extensions: [notesExtension] })
  callers = await matrixCallers(server)
}, 120_000)
afterAll(async () => {
  await server?.stop()
  await callers?.machine.tpm.stop()
  await callers?.otherMachine.tpm.stop()
})

describe("extension policies (test_notes)", () => {
  it("a viewer cannot add a note; an operator can", async () => {
    const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "noted" })
    const id = registered.body.machine.id
    const viewer = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "notes-viewer", role: "viewer" })
    const refused = await api(server, viewer.body.token).post(`/api/v1/test-notes/machines/${id}/notes`, { text: "hi" })
    expect(refused.status).toBe(403)
    expect(refused.body.details).toEqual({ required_scope: "test_notes:write" })
    expect((await api(server, viewer.body.token).get(`/api/v1/test-notes/machines/${id}/notes`)).body.total).toBe(0)
    const added = await api(server, callers.operator).post(`/api/v1/test-notes/machines/${id}/notes`, { text: "hi" })
    expect(added.status).toBe(201)
  })

  it("its scopes are known to token creation", async () => {
    const scoped = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "notes-only", role: "operator", scopes: ["test_notes:read"] })
    expect(scoped.status).toBe(201)
    const beyond = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "x", role: "viewer", scopes: ["test_notes:write"] })
    expect(beyond.status).toBe(400)
    expect(beyond.body.details).toEqual({ field: "scopes[0]" })
  })

  it("its endpoints are in the generated matrix and hold", async () => {
    const { operations, violations } = await authorizationViolations(server, callers)
    expect(violations).toEqual([])
    const notes = operations.filter((o) => o.path.startsWith("/api/v1/test-notes"))
    expect(notes.map((o) => `${o.method} ${o.scopes.join("+")} ${o.role}`).sort()).toEqual([
      "GET test_notes:read viewer",
      "POST test_notes:write operator"
    ])
  }, 120_000)
})
