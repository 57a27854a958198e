/**
 * Two instances on one PostgreSQL database, as docs/metrics.md describes them:
 * counters are per instance and add up to the fleet's (each registration and
 * each sealed audit entry counted once, by one instance), while the database
 * gauges are fleet-wide and the same on both.
 */
import { metrics } from "@itl-attestation/metrics"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { until } from "../../webhooks/test/receiver.js"
import { type Scrape, scrape } from "./scrape.js"

// PGlite serves one process per data directory: two instances need PostgreSQL.
const onPostgres = process.env.TEST_DATABASE_URL !== undefined && process.env.TEST_DATABASE_URL !== ""

let database: FreshDatabase
let first: TestServer
let second: TestServer

beforeAll(async () => {
  if (!onPostgres) return
  database = await freshDatabase()
  first = await startServer({ extensions: [metrics], database })
  second = await startServer({ extensions: [metrics], database, env: { ITL_ADMIN_TOKEN: first.adminToken } })
}, 120_000)

afterAll(async () => {
  await second?.stop()
  await first?.stop()
  await database?.cleanup()
})

const total = (s: Scrape, name: string, filter: (labels: Record<string, string>) => boolean = () => true) =>
  s.samples(name).filter((x) => filter(x.labels)).reduce((n, x) => n + x.value, 0)

describe.skipIf(!onPostgres)("metrics of two instances on one PostgreSQL database", () => {
  it("counts each registration and each audit entry on exactly one instance; both report the same fleet-wide gauges", async () => {
    const registrations = 12
    const responses = await Promise.all(
      Array.from({ length: registrations }, (_, i) =>
        api(i % 2 === 0 ? first : second).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: `fleet-${i}` })
      )
    )
    expect(responses.map((r) => r.status)).toEqual(Array(registrations).fill(201))

    const admin = api(first, first.adminToken)
    await until("every audit row sealed", async () => (await admin.get("/api/v1/audit/verify")).body.pending === 0)
    const rows = (await admin.get("/api/v1/audit/verify")).body.entries as number
    const [a, b] = await until("both instances to have counted the sealed entries", async () => {
      const pair = [await scrape(first.url), await scrape(second.url)] as const
      const counted = total(pair[0], "attestation_audit_log_entries_total") + total(pair[1], "attestation_audit_log_entries_total")
      return counted === rows ? pair : undefined
    })

    const registered = (s: Scrape) => total(s, "attestation_machine_registrations_total", (l) => l.status === "registered")
    expect(registered(a)).toBe(registrations / 2)
    expect(registered(b)).toBe(registrations / 2)
    expect(rows).toBeGreaterThanOrEqual(registrations)

    for (const s of [a, b]) {
      expect(s.value("attestation_machines_by_status", { status: "pending_approval" })).toBe(registrations)
      expect(s.value("attestation_active_sessions")).toBe(0)
    }
  }, 120_000)
})
