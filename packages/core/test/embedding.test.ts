/** The library without host-node: the whole platform as a Fetch-API handler. */
import { AppConfig, appConfig, AttestationApp } from "@itl-attestation/core"
import { ConfigProvider, Layer } from "effect"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { fakeEkPem } from "../../../test-support/server.js"
import { notesExtension } from "../../../test-support/testExtension.js"

let database: FreshDatabase
let app: ReturnType<typeof AttestationApp.toWebHandler>
const adminToken = crypto.randomBytes(24).toString("hex")

beforeAll(async () => {
  database = await freshDatabase()
  const provider = ConfigProvider.fromMap(new Map(Object.entries({ ...database.env, ITL_ADMIN_TOKEN: adminToken })))
  app = AttestationApp.toWebHandler({
    extensions: [notesExtension],
    config: Layer.effect(AppConfig, appConfig).pipe(Layer.provide(Layer.setConfigProvider(provider)))
  })
})
afterAll(async () => {
  await app?.dispose()
  await database?.cleanup()
})

const call = async (method: string, path: string, body?: unknown, token?: string) => {
  const response = await app.handler(
    new Request(`http://embedded.test${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {})
    })
  )
  return { status: response.status, body: response.status === 204 ? undefined : await response.json() }
}

describe("AttestationApp.toWebHandler", () => {
  it("answers core and extension routes from a (Request) => Promise<Response> handler", async () => {
    expect(await call("GET", "/healthz")).toEqual({ status: 200, body: { status: "ok" } })
    expect((await call("GET", "/api/v1/extensions")).body).toMatchObject({ total: 1, extensions: [{ name: "test_notes" }] })
    const registered = await call("POST", "/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "embedded-1" })
    expect(registered.status).toBe(201)
    const id = registered.body.machine.id
    expect((await call("POST", `/api/v1/machines/${id}/approve`, {}, adminToken)).body.status).toBe("approved")
    expect((await call("POST", `/api/v1/test-notes/machines/${id}/notes`, { text: "hi" }, adminToken)).status).toBe(201)
  })

  it("keeps the JSON error contract", async () => {
    expect(await call("GET", "/nowhere")).toEqual({ status: 404, body: { error: "not_found", message: "no route for GET /nowhere" } })
    expect((await call("GET", "/api/v1/machines")).status).toBe(401)
  })
})

