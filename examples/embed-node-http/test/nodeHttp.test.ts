/**
 * Starts the node:http example and drives it over real HTTP, including a
 * request sent before the platform has finished starting (it must be
 * answered, not left hanging). PostgreSQL (TEST_DATABASE_URL) through a pool
 * the test owns, or else the platform's embedded PGlite.
 */
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ExampleDatabase, exampleDatabase } from "../../../test-support/exampleDatabase.js"
import { fakeEkPem } from "../../../test-support/server.js"
// @ts-expect-error the example is plain JavaScript
import { start } from "../src/server.js"

const adminToken = `admin-${crypto.randomBytes(16).toString("hex")}`
let app: { url: string; ready: Promise<any>; close: () => Promise<void> }
let database: ExampleDatabase
/** Sent right after the server listened, before the platform is ready. */
let early: Promise<Response>

beforeAll(async () => {
  database = await exampleDatabase()
  const config = database.config({ ITL_ADMIN_TOKEN: adminToken })
  app = await start({ config, ...(database.pool ? { pool: database.pool } : {}) })
  early = fetch(`${app.url}/attestation/healthz`)
})
afterAll(async () => {
  await app?.close()
  if (database?.pool) expect((await database.pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }])
  await database?.cleanup()
})

describe("node:http with the platform's request listener", () => {
  it("answers a request that arrived while the platform was starting", async () => {
    const response = await early
    expect([response.status, await response.json()]).toEqual([200, { status: "ok" }])
    const report = await app.ready
    expect(report.database.kind).toBe(database.pool ? "postgres" : "embedded")
  })

  it("serves the application's own routes itself", async () => {
    const home = await fetch(`${app.url}/`)
    expect([home.status, await home.text()]).toEqual([200, "hello from the application\n"])
    const other = await fetch(`${app.url}/attestationx`)
    expect([other.status, await other.text()]).toEqual([404, "the application has nothing at GET /attestationx\n"])
  })

  it("hands /attestation/* to the platform", async () => {
    const registered = await fetch(`${app.url}/attestation/api/v1/machines/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ek_public: fakeEkPem(), hostname: "node-http-1" })
    })
    expect(registered.status).toBe(201)
    const { machine } = await registered.json()
    const admin = { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }
    const approved = await fetch(`${app.url}/attestation/api/v1/machines/${machine.id}/approve`, { method: "POST", headers: admin, body: "{}" })
    expect((await approved.json()).status).toBe("approved")
    const audit = await fetch(`${app.url}/attestation/api/v1/audit?target_id=${machine.id}`, { headers: admin })
    expect((await audit.json()).entries.map((e: { action: string }) => e.action)).toContain("machine.approved")
    const missing = await fetch(`${app.url}/attestation/nowhere`)
    expect([missing.status, await missing.json()]).toEqual([404, { error: "not_found", message: "no route for GET /attestation/nowhere" }])
    const spec = await (await fetch(`${app.url}/attestation/openapi.json`)).json()
    expect(Object.keys(spec.paths).every((p) => p.startsWith("/attestation/"))).toBe(true)
  })
})
