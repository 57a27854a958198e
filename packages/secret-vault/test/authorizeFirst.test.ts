/** The generated authorization matrix with secret_vault loaded: its endpoints and the core's (from /openapi.json). */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authorizationViolations, type MatrixCallers, matrixCallers } from "../../../test-support/authorizationMatrix.js"
import { api, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let callers: MatrixCallers

beforeAll(async () => {
  server = await startServer({
    extensions: [secretVault],
    env: { ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") }
  })
  callers = await matrixCallers(server)
  // The machine's own secret at the name the matrix asks for: another machine must not learn it exists.
  const created = await api(server, server.adminToken).post(`/api/v1/secrets/machines/${callers.machine.id}/secrets`, {
    name: "matrix-probe",
    value: "only for the matrix machine"
  })
  expect(created.status).toBe(201)
}, 120_000)
afterAll(async () => {
  await server?.stop()
  await callers?.machine.tpm.stop()
  await callers?.otherMachine.tpm.stop()
})

describe("authorization matrix (secret_vault loaded)", () => {
  it("every endpoint answers every kind of caller as its declared policy implies", async () => {
    const { operations, violations } = await authorizationViolations(server, callers)
    expect(violations).toEqual([])
    const vault = operations.filter((o) => o.path.includes("secret"))
    expect(vault.map((o) => `${o.method} ${o.path} ${o.credential} ${o.scopes.join(",")} ${o.role ?? ""}`.trim()).sort()).toEqual([
      "DELETE /api/v1/secrets/{id} operator secrets:write operator",
      "DELETE /api/v1/shared-secrets/{id} operator secrets:write operator",
      "DELETE /api/v1/shared-secrets/{id}/access operator secrets:write operator",
      "GET /api/v1/secrets/machines/{id}/secrets operator secrets:read viewer",
      "GET /api/v1/secrets/machines/{id}/secrets/{name} machine",
      "GET /api/v1/shared-secrets operator secrets:read viewer",
      "GET /api/v1/shared-secrets/by-name/{name}/value machine",
      "GET /api/v1/shared-secrets/{id} operator secrets:read viewer",
      "GET /api/v1/shared-secrets/{id}/access operator secrets:read viewer",
      "POST /api/v1/secrets/machines/{id}/secrets operator secrets:write operator",
      "POST /api/v1/shared-secrets operator secrets:write operator",
      "POST /api/v1/shared-secrets/rewrap operator secrets:admin admin",
      "POST /api/v1/shared-secrets/{id}/access operator secrets:write operator",
      "PUT /api/v1/shared-secrets/{id} operator secrets:write operator"
    ])
    expect(operations.find((o) => o.path === "/api/v1/secrets/machines/{id}/secrets/{name}")?.machineOwner).toEqual({
      parameter: "id",
      other_machine_status: 404
    })
  }, 180_000)

  it("the machine reads its own secret; another machine's session gets 404 for it", async () => {
    const path = `/api/v1/secrets/machines/${callers.machine.id}/secrets/matrix-probe`
    expect((await api(server, callers.machine.session).get(path)).status).toBe(200)
    const other = await api(server, callers.otherMachine.session).get(path)
    expect(other.status).toBe(404)
  })
})
