/**
 * Starts the Express example and drives it over real HTTP: the application's
 * own routes, auth and error bodies are untouched by the mounted platform, and
 * the platform works under /attestation. On PostgreSQL (TEST_DATABASE_URL) the
 * platform shares the application's pg pool; on PGlite it uses its embedded one.
 */
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ExampleDatabase, exampleDatabase } from "../../../test-support/exampleDatabase.js"
import { fakeEkPem } from "../../../test-support/server.js"
// @ts-expect-error the example is plain JavaScript
import { start } from "../src/app.js"

const apiKey = `shop-${crypto.randomBytes(8).toString("hex")}`
const adminToken = `admin-${crypto.randomBytes(16).toString("hex")}`
let shop: { url: string; ready: Promise<unknown>; close: () => Promise<void> }
let database: ExampleDatabase

beforeAll(async () => {
  database = await exampleDatabase()
  const config = database.config({ ITL_ADMIN_TOKEN: adminToken })
  shop = await start({ apiKey, config, ...(database.pool ? { pool: database.pool } : {}) })
})
afterAll(async () => {
  await shop?.close()
  if (database?.pool) {
    // The platform is gone; the application's pool is not.
    expect((await database.pool.query("SELECT count(*)::int AS n FROM machines")).rows[0].n).toBeGreaterThan(0)
  }
  await database?.cleanup()
})

const send = async (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) => {
  const response = await fetch(shop.url + path, { method, headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }) })
  const text = await response.text()
  let body: any
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: response.status, headers: response.headers, body, text }
}
const json = { "content-type": "application/json" }

describe("the application's own routes", () => {
  it("keep their auth", async () => {
    expect(await send("GET", "/api/orders").then((r) => [r.status, r.body])).toEqual([401, { ok: false, problem: { kind: "unauthenticated", detail: "send X-Api-Key" } }])
    // The platform's admin token is not the application's credential.
    expect((await send("GET", "/api/orders", { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(401)
    const created = await send("POST", "/api/orders", { headers: { ...json, "x-api-key": apiKey }, body: JSON.stringify({ item: "tea" }) })
    expect([created.status, created.body]).toEqual([201, { ok: true, order: { id: 1, item: "tea" } }])
    expect((await send("GET", "/api/orders", { headers: { "x-api-key": apiKey } })).body.orders).toEqual([{ id: 1, item: "tea" }])
  })

  it("keep their own 404 and error bodies", async () => {
    expect(await send("GET", "/nope").then((r) => [r.status, r.body])).toEqual([404, { ok: false, problem: { kind: "not-found", detail: "GET /nope" } }])
    // Not under the prefix, even though it starts with its letters.
    expect((await send("GET", "/attestationx")).body).toEqual({ ok: false, problem: { kind: "not-found", detail: "GET /attestationx" } })
    expect(await send("GET", "/api/boom", { headers: { "x-api-key": apiKey } }).then((r) => [r.status, r.body])).toEqual([
      500,
      { ok: false, problem: { kind: "internal", detail: "see the server log" } }
    ])
    const malformed = await send("POST", "/api/orders", { headers: { ...json, "x-api-key": apiKey }, body: "{not json" })
    expect(malformed.status).toBe(400)
    expect(malformed.body.ok).toBe(false)
    expect(malformed.body.problem.kind).toBe("bad-request")
    const invalid = await send("POST", "/api/orders", { headers: { ...json, "x-api-key": apiKey }, body: JSON.stringify({ item: 7 }) })
    expect([invalid.status, invalid.body]).toEqual([400, { ok: false, problem: { kind: "invalid", detail: "item: a non-empty string" } }])
  })
})

describe("the platform under /attestation", () => {
  it("answers health, operator calls and machine registration", async () => {
    expect((await send("GET", "/attestation/healthz")).body).toEqual({ status: "ok" })
    expect((await send("GET", "/attestation/readyz")).status).toBe(200)
    // Its auth is its own: the application's API key does not open it.
    const refused = await send("GET", "/attestation/api/v1/machines", { headers: { "x-api-key": apiKey } })
    expect([refused.status, refused.body.error]).toEqual([401, "unauthorized"])
    const registered = await send("POST", "/attestation/api/v1/machines/register", {
      headers: json,
      body: JSON.stringify({ ek_public: fakeEkPem(), hostname: "till-1" })
    })
    expect(registered.status).toBe(201)
    const id = registered.body.machine.id
    const admin = { authorization: `Bearer ${adminToken}` }
    const approved = await send("POST", `/attestation/api/v1/machines/${id}/approve`, { headers: { ...admin, ...json }, body: "{}" })
    expect(approved.body.status).toBe("approved")
    const listed = await send("GET", "/attestation/api/v1/machines", { headers: admin })
    expect(listed.body.machines.map((m: { hostname: string }) => m.hostname)).toEqual(["till-1"])
  })

  it("keeps its own error format, also for its 404s and bad bodies", async () => {
    const missing = await send("GET", "/attestation/nope")
    expect([missing.status, missing.body]).toEqual([404, { error: "not_found", message: "no route for GET /attestation/nope" }])
    const malformed = await send("POST", "/attestation/api/v1/machines/register", { headers: json, body: "{not json" })
    expect(malformed.status).toBe(400)
    expect(malformed.body.error).toBeTypeOf("string")
    expect(malformed.body.ok).toBeUndefined()
  })

  it("publishes an OpenAPI document whose paths carry the prefix, and /docs", async () => {
    const spec = (await send("GET", "/attestation/openapi.json")).body
    const paths = Object.keys(spec.paths)
    expect(paths).toContain("/attestation/api/v1/machines")
    expect(paths.filter((p) => !p.startsWith("/attestation/"))).toEqual([])
    const docs = await send("GET", "/attestation/docs")
    expect(docs.status).toBe(200)
    expect(docs.headers.get("content-type")).toContain("text/html")
    expect(docs.text).toContain("/attestation/api/v1/machines")
    expect((await send("GET", "/openapi.json")).body.ok).toBe(false)
  })
})
