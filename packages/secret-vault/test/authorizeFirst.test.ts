/** Authorization before validation for secret_vault's operator endpoints (and the core's), from /openapi.json. */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authorizationViolations } from "../../../test-support/authorizationMatrix.js"
import { startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer

beforeAll(async () => {
  server = await startServer({
    extensions: [secretVault],
    env: { ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") }
  })
})
afterAll(() => server?.stop())

describe("authorize first (secret_vault loaded)", () => {
  it("answers a caller without the role 401/403 before looking at the input", async () => {
    const { operations, violations } = await authorizationViolations(server)
    expect(violations).toEqual([])
    const vault = operations.filter((o) => o.path.includes("secret"))
    expect(vault.map((o) => `${o.method} ${o.path} ${o.role}`).sort()).toEqual([
      "DELETE /api/v1/secrets/{id} operator",
      "DELETE /api/v1/shared-secrets/{id} operator",
      "DELETE /api/v1/shared-secrets/{id}/access operator",
      "GET /api/v1/secrets/machines/{id}/secrets viewer",
      "GET /api/v1/shared-secrets viewer",
      "GET /api/v1/shared-secrets/{id} viewer",
      "GET /api/v1/shared-secrets/{id}/access viewer",
      "POST /api/v1/secrets/machines/{id}/secrets operator",
      "POST /api/v1/shared-secrets operator",
      "POST /api/v1/shared-secrets/rewrap admin",
      "POST /api/v1/shared-secrets/{id}/access operator",
      "PUT /api/v1/shared-secrets/{id} operator"
    ])
  })
})
