/** The library without host-node: the whole platform as a Fetch-API handler, its embedding options, and its services. */
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "@effect/sql"
import { actingAs, AppConfig, appConfig, AttestationApp, Machines, MachinesRead } from "@itl-attestation/core"
import { ConfigProvider, Effect, Layer, Redacted, String as Str } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { freshPool } from "../../../test-support/hostPool.js"
import { fakeEkPem } from "../../../test-support/server.js"
import { notesExtension } from "../../../test-support/testExtension.js"

let database: FreshDatabase
let app: ReturnType<typeof AttestationApp.toWebHandler>
const adminToken = crypto.randomBytes(24).toString("hex")

const configFrom = (env: Record<string, string>) =>
  Layer.effect(AppConfig, appConfig).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

beforeAll(async () => {
  database = await freshDatabase()
  app = AttestationApp.toWebHandler({
    extensions: [notesExtension],
    config: configFrom({ ...database.env, ITL_ADMIN_TOKEN: adminToken })
  })
})
afterAll(async () => {
  await app?.dispose()
  await database?.cleanup()
})

type Handler = { readonly handler: (request: Request) => Promise<Response> }

const caller = (target: Handler) => async (method: string, path: string, body?: unknown, token?: string) => {
  const response = await target.handler(
    new Request(`http://embedded.test${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {})
    })
  )
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, body: text === "" ? undefined : (() => { try { return JSON.parse(text) } catch { return undefined } })() }
}
const call = (method: string, path: string, body?: unknown, token?: string) => caller(app)(method, path, body, token)

describe("AttestationApp.toWebHandler", () => {
  it("answers core and extension routes from a (Request) => Promise<Response> handler", async () => {
    expect((await call("GET", "/healthz")).body).toEqual({ status: "ok" })
    expect((await call("GET", "/api/v1/extensions")).body).toMatchObject({ total: 1, extensions: [{ name: "test_notes" }] })
    const registered = await call("POST", "/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "embedded-1" })
    expect(registered.status).toBe(201)
    const id = registered.body.machine.id
    expect((await call("POST", `/api/v1/machines/${id}/approve`, {}, adminToken)).body.status).toBe("approved")
    expect((await call("POST", `/api/v1/test-notes/machines/${id}/notes`, { text: "hi" }, adminToken)).status).toBe(201)
  })

  it("keeps the JSON error contract", async () => {
    const missing = await call("GET", "/nowhere")
    expect({ status: missing.status, body: missing.body }).toEqual({ status: 404, body: { error: "not_found", message: "no route for GET /nowhere" } })
    expect((await call("GET", "/api/v1/machines")).status).toBe(401)
  })
})

/**
 * No route matched: the platform's own 404 under the prefix ("no route for …"), or, outside the prefix where
 * the platform serves nothing at all, an empty 404. As opposed to a handler's answer, e.g. "machine … not found".
 */
const isNoRoute = (answer: { status: number; body: any; text: string }) =>
  answer.status === 404 &&
  (answer.text === "" || (typeof answer.body?.message === "string" && answer.body.message.startsWith("no route for")))

describe("prefix", () => {
  let mounted: ReturnType<typeof AttestationApp.toWebHandler>
  let prefixed: ReturnType<typeof caller>
  let store: FreshDatabase
  beforeAll(async () => {
    store = await freshDatabase()
    mounted = AttestationApp.toWebHandler({
      extensions: [notesExtension],
      prefix: "/attestation/",
      config: configFrom({ ...store.env, ITL_ADMIN_TOKEN: adminToken })
    })
    prefixed = caller(mounted)
  })
  afterAll(async () => {
    await mounted?.dispose()
    await store?.cleanup()
  })

  it("serves core and extension routes under the prefix, and nothing at the root", async () => {
    expect((await prefixed("GET", "/attestation/healthz")).body).toEqual({ status: "ok" })
    expect(isNoRoute(await prefixed("GET", "/healthz"))).toBe(true)
    expect(isNoRoute(await prefixed("GET", "/api/v1/machines", undefined, adminToken))).toBe(true)
    const registered = await prefixed("POST", "/attestation/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "prefixed-1" })
    expect(registered.status).toBe(201)
    const id = registered.body.machine.id
    expect((await prefixed("POST", `/attestation/api/v1/machines/${id}/approve`, {}, adminToken)).body.status).toBe("approved")
    expect((await prefixed("POST", `/attestation/api/v1/test-notes/machines/${id}/notes`, { text: "hi" }, adminToken)).status).toBe(201)
    expect((await prefixed("GET", `/attestation/api/v1/test-notes/machines/${id}/notes`, undefined, adminToken)).body.total).toBe(1)
    // A path that merely starts with the prefix's letters is not under it.
    expect(isNoRoute(await prefixed("GET", "/attestationhealthz"))).toBe(true)
    // Under the prefix, the platform's 404 names the path as the client sent it.
    const missing = await prefixed("GET", "/attestation/nowhere?x=1")
    expect([missing.status, missing.body]).toEqual([404, { error: "not_found", message: "no route for GET /attestation/nowhere" }])
  })

  it("publishes /openapi.json and /docs under the prefix, describing the prefixed paths that a client can follow", async () => {
    expect(isNoRoute(await prefixed("GET", "/openapi.json"))).toBe(true)
    const spec = (await prefixed("GET", "/attestation/openapi.json")).body
    const paths = Object.keys(spec.paths)
    expect(paths.length).toBeGreaterThan(20)
    expect(paths.filter((p) => !p.startsWith("/attestation/"))).toEqual([])
    expect(paths).toContain("/attestation/api/v1/test-notes/machines/{id}/notes")
    // The roles annotation still finds its operations under the prefixed paths.
    expect(spec.paths["/attestation/api/v1/machines"].get["x-required-scope"]).toBe("machines:read")
    // Every operation of the document reaches a route (no credential: a 401 or 400 is an answer of that route).
    const someId = crypto.randomUUID()
    for (const [template, operations] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(operations).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m))) {
        const answer = await prefixed(Str.toUpperCase(method), template.replace(/\{[^}]+\}/g, someId), method === "get" ? undefined : {})
        expect(isNoRoute(answer), `${method} ${template}`).toBe(false)
      }
    }
    const docs = await prefixed("GET", "/attestation/docs")
    expect(docs.status).toBe(200)
    expect(docs.headers.get("content-type")).toContain("text/html")
    expect(docs.text).toContain("/attestation/api/v1/machines")
  })

  it("refuses a prefix that is not a plain path, naming the option", async () => {
    for (const bad of ["attestation", "/a/:id", "/a b", "/a?x=1", "/a//b", "/*"]) {
      const broken = AttestationApp.toWebHandler({ extensions: [], prefix: bad, config: configFrom({ ...store.env, ITL_ADMIN_TOKEN: adminToken }) })
      await expect(broken.handler(new Request("http://embedded.test/healthz"))).rejects.toThrow(/prefix .*must be "\/" followed by path segments/)
      await broken.dispose()
    }
  })
})

describe("database option", () => {
  it("uses an existing pg pool, runs the migrations in it, and leaves the pool open on dispose", async () => {
    const host = await freshPool()
    try {
      const embedded = AttestationApp.toWebHandler({
        extensions: [notesExtension],
        database: { pool: host.pool },
        config: configFrom({ ...host.env, ITL_ADMIN_TOKEN: adminToken })
      })
      const viaPool = caller(embedded)
      const registered = await viaPool("POST", "/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "pooled-1" })
      expect(registered.status).toBe(201)
      const ready = await viaPool("GET", "/readyz")
      expect(ready.status).toBe(200)
      await embedded.dispose()
      // The application's pool still works, and holds what the platform wrote.
      const { rows } = await host.pool.query("SELECT hostname FROM machines")
      expect(rows).toEqual([{ hostname: "pooled-1" }])
      const tracked = await host.pool.query("SELECT count(*)::int AS n FROM migrations_core")
      expect(tracked.rows[0].n).toBeGreaterThan(0)
      expect(host.pool.ended).toBe(false)
    } finally {
      await host.cleanup()
    }
  })

  it("treats a supplied database as PostgreSQL: without ITL_MASTER_KEY the start is refused, nothing generated", async () => {
    const host = await freshPool()
    try {
      const { ITL_MASTER_KEY: _unused, ...withoutKey } = host.env
      const embedded = AttestationApp.toWebHandler({ extensions: [], database: { pool: host.pool }, config: configFrom(withoutKey) })
      await expect(embedded.handler(new Request("http://embedded.test/healthz"))).rejects.toThrow(/ITL_MASTER_KEY is required/)
      await embedded.dispose()
      expect(host.pool.ended).toBe(false)
      // The embedded default would have generated these; a supplied database is never the embedded default.
      for (const file of ["master.key", "admin-token"]) expect(fs.existsSync(path.join(withoutKey.ITL_DATA_DIR!, file))).toBe(false)
    } finally {
      await host.cleanup()
    }
  })

  it("keeps to its own schema when the application's pool sets search_path, beside the application's own tables", async () => {
    const host = await freshPool()
    try {
      // The application already has a table named like one of the platform's.
      await host.pool.query("CREATE TABLE machines (sku text PRIMARY KEY); INSERT INTO machines VALUES ('espresso-3000')")
      await host.pool.query("CREATE SCHEMA attestation")
      const pool = new (host.pool.constructor as any)({ ...host.pool.options })
      pool.on("connect", (client: any) => client.query("SET search_path TO attestation"))
      try {
        const embedded = AttestationApp.toWebHandler({
          extensions: [],
          database: { pool },
          config: configFrom({ ...host.env, ITL_ADMIN_TOKEN: adminToken })
        })
        const registered = await caller(embedded)("POST", "/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "schema-1" })
        expect(registered.status).toBe(201)
        await embedded.dispose()
      } finally {
        await pool.end()
      }
      expect((await host.pool.query("SELECT sku FROM public.machines")).rows).toEqual([{ sku: "espresso-3000" }])
      expect((await host.pool.query("SELECT hostname FROM attestation.machines")).rows).toEqual([{ hostname: "schema-1" }])
      const tracked = await host.pool.query("SELECT table_schema FROM information_schema.tables WHERE table_name = 'migrations_core'")
      expect(tracked.rows).toEqual([{ table_schema: "attestation" }])
    } finally {
      await host.cleanup()
    }
  })

  it("takes a connection string and a PgClient layer", async () => {
    const host = await freshPool()
    try {
      const byUrl = AttestationApp.toWebHandler({ extensions: [], database: { url: host.url }, config: configFrom(host.env) })
      expect((await caller(byUrl)("GET", "/readyz")).status).toBe(200)
      await byUrl.dispose()
      const client = PgClient.layer({ url: Redacted.make(host.url), maxConnections: 1 })
      const byClient = AttestationApp.toWebHandler({
        extensions: [],
        database: { client },
        config: configFrom({ ...host.env, ITL_ADMIN_TOKEN: adminToken })
      })
      expect((await caller(byClient)("GET", "/api/v1/machines", undefined, adminToken)).body.total).toBe(0)
      await byClient.dispose()
    } finally {
      await host.cleanup()
    }
  })

  it("refuses a client that renames columns, saying why", async () => {
    const host = await freshPool()
    try {
      const camel = PgClient.layer({ url: Redacted.make(host.url), maxConnections: 1, transformResultNames: (name) => name.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase()) })
      const embedded = AttestationApp.toWebHandler({ extensions: [], database: { client: camel }, config: configFrom(host.env) })
      await expect(embedded.handler(new Request("http://embedded.test/healthz"))).rejects.toThrow(/transforms column names/)
      await embedded.dispose()
    } finally {
      await host.cleanup()
    }
  })
})

describe("AttestationApp.services", () => {
  it("gives an Effect program the core services on the application's own SqlClient, without HTTP", async () => {
    const host = await freshPool()
    try {
      const Db = PgClient.layer({ url: Redacted.make(host.url), maxConnections: 1 })
      const operator = { name: "billing-service", role: "operator" as const }
      const program = Effect.gen(function* () {
        const machines = yield* Machines
        const page = yield* machines.list({ limit: 10, offset: 0 } as any)
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM migrations_core`
        return { total: page.total, migrations: row!.n }
      }).pipe(actingAs(operator, MachinesRead))
      // One build: the program's SqlClient and the platform's are the same layer value, built once.
      const result = await Effect.runPromise(
        program.pipe(
          Effect.provide(Layer.provideMerge(AttestationApp.services({ database: { client: Db } }), Layer.merge(Db, configFrom(host.env))))
        )
      )
      expect(result.total).toBe(0)
      expect(result.migrations).toBeGreaterThan(0)
    } finally {
      await host.cleanup()
    }
  })
})
