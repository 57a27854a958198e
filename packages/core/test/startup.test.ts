import { runMigrations } from "@itl-attestation/core"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { api, fakeEkPem, startServer } from "../../../test-support/server.js"

let database: FreshDatabase
beforeAll(async () => {
  database = await freshDatabase()
})
afterAll(() => database?.cleanup())

const mode = (file: string) => fs.statSync(file).mode & 0o777

describe("startup and keys", () => {
  it("keeps data across restarts and refuses a master key that cannot open it", async () => {
    const first = await startServer({ database })
    const id = (await api(first).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "persist-1" })).body.machine.id
    await first.stop()

    const second = await startServer({ database, env: { ITL_ADMIN_TOKEN: first.adminToken } })
    expect((await api(second, first.adminToken).get(`/api/v1/machines/${id}`)).body.hostname).toBe("persist-1")
    expect((await api(second, first.adminToken).get("/api/v1/audit/verify")).body.valid).toBe(true)
    await second.stop()

    const wrongKey = crypto.randomBytes(32).toString("hex")
    if (database.kind === "embedded") fs.renameSync(path.join(database.env.ITL_DATA_DIR!, "master.key"), path.join(database.env.ITL_DATA_DIR!, "master.key.bak"))
    await expect(startServer({ database, env: { ITL_MASTER_KEY: wrongKey } })).rejects.toThrow(
      /master key cannot open the stored 'audit_chain' key/
    )
    if (database.kind === "embedded") fs.renameSync(path.join(database.env.ITL_DATA_DIR!, "master.key.bak"), path.join(database.env.ITL_DATA_DIR!, "master.key"))
  })

  it("rotates the master key with ITL_MASTER_KEY_PREVIOUS, after which the old key is no longer needed", async () => {
    const oldKey = database.env.ITL_MASTER_KEY ?? fs.readFileSync(path.join(database.env.ITL_DATA_DIR!, "master.key"), "utf8").trim()
    const newKey = crypto.randomBytes(32).toString("hex")
    const rotating = await startServer({ database, env: { ITL_MASTER_KEY: newKey, ITL_MASTER_KEY_PREVIOUS: oldKey } })
    expect((await api(rotating, rotating.adminToken).get("/api/v1/audit/verify")).body.valid).toBe(true)
    await rotating.stop()
    const rotated = await startServer({ database, env: { ITL_MASTER_KEY: newKey } })
    expect((await api(rotated, rotated.adminToken).get("/api/v1/audit/verify")).body.valid).toBe(true)
    await rotated.stop()
    await expect(startServer({ database, env: { ITL_MASTER_KEY: oldKey } })).rejects.toThrow(/master key/)
  })

  it("names the variable when configuration is bad", async () => {
    await expect(startServer({ env: { ITL_MASTER_KEY: "not-hex" } })).rejects.toThrow(/ITL_MASTER_KEY.*64 hexadecimal/)
    await expect(startServer({ env: { ITL_PORT: "99999" } })).rejects.toThrow(/ITL_PORT/)
    await expect(startServer({ env: { ITL_ADMIN_TOKEN: "short" } })).rejects.toThrow(/ITL_ADMIN_TOKEN/)
    await expect(
      startServer({ env: { ITL_DATABASE_URL: "postgresql://127.0.0.1:1/none", ITL_MASTER_KEY: "" } })
    ).rejects.toThrow(/ITL_MASTER_KEY/)
  })

  it("requires ITL_MASTER_KEY with a real database, before connecting to it", async () => {
    const fresh = await freshDatabase()
    try {
      const env = { ...fresh.env, ITL_DATABASE_URL: "postgresql://127.0.0.1:1/unreachable" }
      delete (env as Record<string, string>).ITL_MASTER_KEY
      await expect(startServer({ database: { ...fresh, env } })).rejects.toThrow(/ITL_MASTER_KEY is required with a PostgreSQL database/)
    } finally {
      await fresh.cleanup()
    }
  })
})

describe("embedded default", () => {
  it.runIf(process.env.TEST_DATABASE_URL === undefined || process.env.TEST_DATABASE_URL === "")(
    "generates the admin token and master key once, 0600, and reports the token only on first start",
    async () => {
      const fresh = await freshDatabase()
      try {
        const first = await startServer({ database: fresh, generatedAdmin: true })
        const dataDir = fresh.env.ITL_DATA_DIR!
        expect(first.info.report.database.kind).toBe("embedded")
        expect(first.adminToken).toMatch(/^itl_admin_/)
        expect(fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim()).toBe(first.adminToken)
        expect(mode(path.join(dataDir, "admin-token"))).toBe(0o600)
        expect(mode(path.join(dataDir, "master.key"))).toBe(0o600)
        expect((await api(first, first.adminToken).get("/api/v1/machines")).status).toBe(200)
        await first.stop()
        const second = await startServer({ database: fresh, generatedAdmin: true })
        expect(second.info.report.generatedAdminToken._tag).toBe("None")
        expect((await api(second, first.adminToken).get("/api/v1/machines")).status).toBe(200)
        await second.stop()
      } finally {
        await fresh.cleanup()
      }
    }
  )
})

describe("migrations", () => {
  it("two migrators starting at once apply each migration exactly once", async () => {
    const server = await startServer()
    try {
      const set = {
        "0001_first": Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE race_first (id int)`),
        "0002_second": Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE race_second (id int)`)
      }
      await server.run(Effect.all([runMigrations("race", set), runMigrations("race", set), runMigrations("race", set)], { concurrency: "unbounded" }))
      const applied = await server.sql<{ migration_id: number }>("SELECT migration_id FROM migrations_race ORDER BY migration_id")
      expect(applied.map((r) => r.migration_id)).toEqual([1, 2])
    } finally {
      await server.stop()
    }
  })

  it.runIf(process.env.TEST_DATABASE_URL !== undefined && process.env.TEST_DATABASE_URL !== "")(
    "two server instances starting together on one PostgreSQL database both come up",
    async () => {
      const shared = await freshDatabase()
      try {
        const [a, b] = await Promise.all([startServer({ database: shared }), startServer({ database: shared })])
        const id = (await api(a).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "shared-1" })).body.machine.id
        expect((await api(b, b.adminToken).get(`/api/v1/machines/${id}`)).status).toBe(200)
        await Promise.all([a.stop(), b.stop()])
      } finally {
        await shared.cleanup()
      }
    }
  )
})
