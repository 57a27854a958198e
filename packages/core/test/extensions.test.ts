import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { badMigrationExtension, brokenExtension, notesExtension } from "../../../test-support/testExtension.js"

let server: TestServer
let admin: ReturnType<typeof api>

beforeAll(async () => {
  server = await startServer({ extensions: [brokenExtension, notesExtension, badMigrationExtension] })
  admin = api(server, server.adminToken)
})
afterAll(() => server?.stop())

const registerMachine = async (hostname: string) =>
  (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname })).body.machine.id as string

describe("extension contract", () => {
  it("lists the extensions that loaded, and only those", async () => {
    const response = await api(server).get("/api/v1/extensions")
    expect(response.status).toBe(200)
    expect(response.body).toEqual({
      extensions: [{ name: "test_notes", version: "1.2.3", description: "Notes on machines (test extension)" }],
      total: 1
    })
  })

  it("reports an extension whose layer or migration fails as `[Extension] Failed to load <name>: <reason>`", () => {
    const failures = server.info.report.failedExtensions
    expect(failures).toContainEqual({ name: "broken_thing", reason: "upstream vault unreachable" })
    expect(failures.map((f) => f.name)).toContain("bad_migration")
    expect(server.info.report.failedExtensions.length).toBe(2)
  })

  it("runs the extension's migrations, tracked in its own table", async () => {
    const applied = await server.sql<{ migration_id: number; name: string }>(
      "SELECT migration_id, name FROM migrations_test_notes ORDER BY migration_id"
    )
    expect(applied).toEqual([
      { migration_id: 1, name: "create_notes" },
      { migration_id: 2, name: "create_seen" }
    ])
    const core = await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM migrations_core")
    expect(core[0]!.n).toBeGreaterThanOrEqual(5)
  })

  it("serves the extension's routes with the core's operator authentication", async () => {
    const id = await registerMachine("notes-1")
    const created = await admin.post(`/api/v1/test-notes/machines/${id}/notes`, { text: "rack 4" })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ machine_id: id, text: "rack 4" })
    expect((await api(server).get(`/api/v1/test-notes/machines/${id}/notes`)).status).toBe(401)
    const bad = await admin.post(`/api/v1/test-notes/machines/${id}/notes`, { text: "" })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toMatch(/^text: /)
  })

  it("never routes a failed extension", async () => {
    const response = await admin.get("/api/v1/bad-migration")
    expect(response.status).toBe(404)
  })

  it("deleting a machine removes what extensions hold for it", async () => {
    const id = await registerMachine("notes-2")
    await admin.post(`/api/v1/test-notes/machines/${id}/notes`, { text: "to be removed" })
    expect((await admin.get(`/api/v1/test-notes/machines/${id}/notes`)).body.total).toBe(1)
    expect((await admin.delete(`/api/v1/machines/${id}`)).status).toBe(204)
    const left = await server.sql("SELECT * FROM extension_test_notes WHERE machine_id = $1", [id])
    expect(left).toEqual([])
  })

  it("gives extensions durable events through the core consumer helper", async () => {
    const id = await registerMachine("notes-3")
    await admin.post(`/api/v1/machines/${id}/approve`)
    const expected = await server.sql<{ seq: string; event_type: string }>(
      "SELECT seq::text AS seq, event_type FROM events ORDER BY seq"
    )
    let seen: ReadonlyArray<{ seq: string; event_type: string }> = []
    for (let i = 0; i < 50 && seen.length < expected.length; i++) {
      await new Promise((r) => setTimeout(r, 100))
      seen = await server.sql("SELECT seq::text AS seq, event_type FROM extension_test_notes_seen ORDER BY seq")
    }
    expect(seen).toEqual(expected)
  })

  it("describes the core and the loaded extensions in /openapi.json and serves /docs", async () => {
    const spec = await api(server).get("/openapi.json")
    expect(spec.status).toBe(200)
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining(["/api/v1/machines/register", "/api/v1/machines/{id}/approve", "/api/v1/test-notes/machines/{id}/notes"])
    )
    const docs = await fetch(server.url + "/docs")
    expect(docs.status).toBe(200)
    expect(docs.headers.get("content-type")).toContain("text/html")
  })
})
