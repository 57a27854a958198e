/**
 * Runs the library-only example: the platform's services in an Effect
 * program, no HTTP. Twice over one database, the second run with a new layer
 * build (the migrations are not repeated and the first machine is still there).
 * PostgreSQL (TEST_DATABASE_URL): through a pool the test owns, which is still
 * usable afterwards; otherwise the platform's embedded PGlite.
 */
import { actingAs, AppConfig, appConfig, Machines, MachinesRead, MachinesWrite } from "@itl-attestation/core"
import { ConfigProvider, Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ExampleDatabase, exampleDatabase } from "../../../test-support/exampleDatabase.js"
import { freshPool } from "../../../test-support/hostPool.js"
import { fakeEkPem } from "../../../test-support/server.js"
// @ts-expect-error the example is plain JavaScript
import { enrollAndApprove, operator, runWithPlatform } from "../src/enroll.js"

let database: ExampleDatabase
let options: { pool?: unknown; config: Layer.Layer<AppConfig> }

beforeAll(async () => {
  database = await exampleDatabase()
  options = { config: database.config(), ...(database.pool ? { pool: database.pool } : {}) }
})
afterAll(() => database?.cleanup())

describe("library-only example", () => {
  it("registers and approves a machine and reads its audit trail, without HTTP", async () => {
    const { machine, audit } = await runWithPlatform(enrollAndApprove({ ekPublic: fakeEkPem(), hostname: "lib-1" }), options)
    expect(machine).toMatchObject({ hostname: "lib-1", status: "approved", approved_by: operator.name })
    expect(audit.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(["machine.registered", "machine.approved"]))
    expect(audit.find((e: { action: string }) => e.action === "machine.approved").actor).toBe(operator.name)
  })

  it("enforces the roles the HTTP API enforces", async () => {
    const viewer = Effect.flatMap(Machines, (machines) => machines.list({ limit: 10, offset: 0 })).pipe(
      actingAs({ name: "report", role: "viewer" }, MachinesRead)
    )
    expect((await runWithPlatform(viewer, options)).machines.map((m: { hostname: string }) => m.hostname)).toEqual(["lib-1"])
    const approveAsViewer = Effect.flatMap(Machines, (machines) => machines.approve("00000000-0000-0000-0000-000000000000" as never)).pipe(
      actingAs({ name: "report", role: "viewer" }, MachinesWrite),
      Effect.flip
    )
    expect((await runWithPlatform(approveAsViewer, options))._tag).toBe("Forbidden")
  })

  it("borrows an application's pg pool and leaves it open (PGlite on a socket, or PostgreSQL)", async () => {
    const own = await freshPool()
    try {
      const config = Layer.effect(AppConfig, appConfig).pipe(
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(own.env)))))
      )
      const { machine } = await runWithPlatform(enrollAndApprove({ ekPublic: fakeEkPem(), hostname: "pooled" }), { pool: own.pool, config })
      expect(machine.status).toBe("approved")
      expect(own.pool.ended).toBe(false)
      expect((await own.pool.query("SELECT hostname FROM machines")).rows).toEqual([{ hostname: "pooled" }])
    } finally {
      await own.cleanup()
    }
  })
})
