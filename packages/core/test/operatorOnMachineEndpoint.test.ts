/**
 * An operator token sent to a machine endpoint (one that a machine calls with
 * its session token) is told what the endpoint is for and, where the endpoint
 * declares one (OperatorAlternative), what operators use instead — for the
 * core's endpoint and for an extension's, with or without a declaration. Still
 * 401 (it is not a machine credential), and nothing is recorded as a use of
 * the token. Garbage and revoked tokens keep the plain answer.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { CurrentMachine, defineExtension, MachineAuthentication, OperatorAlternative, serveApi } from "@itl-attestation/core"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, startServer, type TestServer } from "../../../test-support/server.js"

const EXTENSION_ALTERNATIVE = "GET /api/v1/machines/{id}/inventory (`attestation inventory get <id>`)"

/** Machine endpoints that declare no operator alternative. */
class InventoryApi extends HttpApi.make("machine_inventory").add(
  HttpApiGroup.make("report")
    .add(HttpApiEndpoint.get("declared", "/api/v1/inventory/mine").addSuccess(Schema.Struct({ id: Schema.String })))
    .add(HttpApiEndpoint.get("silent", "/api/v1/inventory/mine/raw").addSuccess(Schema.Struct({ id: Schema.String })))
    .middleware(MachineAuthentication)
) {}

/** A second API of the same extension, whose group declares one. */
class DeclaredApi extends HttpApi.make("machine_inventory_declared").add(
  HttpApiGroup.make("declaredReport")
    .add(HttpApiEndpoint.get("declared", "/api/v1/inventory/declared").addSuccess(Schema.Struct({ id: Schema.String })))
    .annotate(OperatorAlternative, EXTENSION_ALTERNATIVE)
    .middleware(MachineAuthentication)
) {}

const mine = Effect.map(CurrentMachine, (machine) => ({ id: machine.id }))

const inventory = defineExtension({
  name: "machine_inventory",
  version: "1.0.0",
  description: "machine endpoints with and without an operator alternative (test)",
  core: "^2.0.0",
  apis: [
    serveApi(InventoryApi, HttpApiBuilder.group(InventoryApi, "report", (handlers) => handlers.handle("declared", () => mine).handle("silent", () => mine))),
    serveApi(DeclaredApi, HttpApiBuilder.group(DeclaredApi, "declaredReport", (handlers) => handlers.handle("declared", () => mine)))
  ]
})

let server: TestServer
let operatorToken: string
let revokedToken: string

beforeAll(async () => {
  server = await startServer({ extensions: [inventory] })
  const admin = api(server, server.adminToken)
  operatorToken = (await admin.post("/api/v1/operators/tokens", { name: "op-on-machine", role: "operator" })).body.token
  const revoked = (await admin.post("/api/v1/operators/tokens", { name: "op-revoked", role: "operator" })).body
  revokedToken = revoked.token
  expect((await admin.delete(`/api/v1/operators/tokens/${revoked.id}`)).status).toBeLessThan(300)
}, 120_000)
afterAll(() => server?.stop())

const PREFIX = "this endpoint is called by a machine with its own session token (`attestation agent attest`, or POST /api/v1/attest), not an operator token"

describe("an operator token on a machine endpoint", () => {
  it("core: GET /api/v1/machines/me names the operator endpoint for a machine", async () => {
    for (const token of [() => server.adminToken, () => operatorToken]) {
      const answer = await api(server, token()).get("/api/v1/machines/me")
      expect(answer.status).toBe(401)
      expect(answer.body).toMatchObject({
        error: "machine_session_required",
        message: `${PREFIX}; operators use GET /api/v1/machines/{id} (\`attestation machine get <id>\`)`,
        details: { operator_alternative: "GET /api/v1/machines/{id} (`attestation machine get <id>`)" }
      })
    }
  })

  it("the OpenAPI document lists the declared alternatives (x-operator-alternative)", async () => {
    const spec = (await api(server).get("/openapi.json")).body
    expect(spec.paths["/api/v1/machines/me"].get["x-operator-alternative"]).toBe("GET /api/v1/machines/{id} (`attestation machine get <id>`)")
    expect(spec.paths["/api/v1/inventory/declared"].get["x-operator-alternative"]).toBe(EXTENSION_ALTERNATIVE)
    expect(spec.paths["/api/v1/inventory/mine"].get["x-operator-alternative"]).toBeUndefined()
  })

  it("an extension's endpoint: its own declaration, or just what the endpoint is for", async () => {
    const declared = await api(server, operatorToken).get("/api/v1/inventory/declared")
    expect(declared.status).toBe(401)
    expect(declared.body.message).toBe(`${PREFIX}; operators use ${EXTENSION_ALTERNATIVE}`)
    for (const route of ["/api/v1/inventory/mine", "/api/v1/inventory/mine/raw"]) {
      const silent = await api(server, operatorToken).get(route)
      expect(silent.status).toBe(401)
      expect(silent.body).toMatchObject({ error: "machine_session_required", message: PREFIX })
      expect(silent.body.details).toBeUndefined()
    }
  })

  it("garbage and revoked tokens keep the plain answer, and the operator token is not recorded as used", async () => {
    for (const token of ["garbage-token-garbage-token", revokedToken]) {
      const answer = await api(server, token).get("/api/v1/machines/me")
      expect(answer.status).toBe(401)
      expect(answer.body).toMatchObject({ error: "unauthorized", message: "invalid or expired machine session; attest again" })
    }
    const [row] = await server.sql<{ last_used_at: unknown }>("SELECT last_used_at FROM operator_tokens WHERE name = 'op-on-machine'")
    expect(row!.last_used_at).toBeNull()
  })
})
