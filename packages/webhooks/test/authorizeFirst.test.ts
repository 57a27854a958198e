/** The generated authorization matrix with the webhooks extension loaded: its endpoints and the core's (from /openapi.json). */
import { webhooks } from "@itl-attestation/webhooks"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authorizationViolations, type MatrixCallers, matrixCallers } from "../../../test-support/authorizationMatrix.js"
import { startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let callers: MatrixCallers

beforeAll(async () => {
  server = await startServer({ extensions: [webhooks] })
  callers = await matrixCallers(server)
}, 120_000)
afterAll(async () => {
  await server?.stop()
  await callers?.machine.tpm.stop()
  await callers?.otherMachine.tpm.stop()
})

describe("authorization matrix (webhooks loaded)", () => {
  it("every endpoint answers every kind of caller as its declared policy implies; operators hold both scopes", async () => {
    const { operations, violations } = await authorizationViolations(server, callers)
    expect(violations).toEqual([])
    const mine = operations.filter((o) => o.path.startsWith("/api/v1/webhooks"))
    expect(mine.map((o) => `${o.method} ${o.path} ${o.credential} ${o.scopes.join(",")} ${o.role ?? ""}`.trim()).sort()).toEqual([
      "DELETE /api/v1/webhooks/{id} operator webhooks:write operator",
      "GET /api/v1/webhooks operator webhooks:read operator",
      "GET /api/v1/webhooks/{id} operator webhooks:read operator",
      "GET /api/v1/webhooks/{id}/deliveries operator webhooks:read operator",
      "POST /api/v1/webhooks operator webhooks:write operator",
      "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver operator webhooks:write operator",
      "POST /api/v1/webhooks/{id}/replay operator webhooks:write operator",
      "POST /api/v1/webhooks/{id}/test operator webhooks:write operator",
      "PUT /api/v1/webhooks/{id} operator webhooks:write operator"
    ])
  }, 180_000)
})
