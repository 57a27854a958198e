/**
 * Rules that hold without a global lock, under concurrent identical requests
 * against a real listening server; and two host instances on one PostgreSQL
 * database, both written to at once, audited, sealed and delivered exactly as
 * one instance would.
 */
import { Events, type StoredEvent } from "@itl-attestation/core"
import { secretVault } from "@itl-attestation/secret-vault"
import { Effect, Exit, Scope } from "effect"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { LOCAL_POSTGRES_URL, postgresDatabase } from "../../../test-support/database.js"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const register = (server: TestServer, ek_public: string, hostname: string) =>
  api(server).post("/api/v1/machines/register", { ek_public, hostname })

const CONCURRENCY = 16
const env = { ITL_REGISTRATION_LIMIT: "100000" }

describe("registration under concurrent identical requests", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ env })
  })
  afterAll(() => server?.stop())

  it("gives a hostname to one EK only: one 201, every other 409, one machine, one audit row", async () => {
    const pems = Array.from({ length: CONCURRENCY }, () => fakeEkPem())
    const answers = await Promise.all(pems.map((pem, i) => register(server, pem, i % 2 === 0 ? "race-host" : "RACE-Host")))
    expect(answers.map((a) => a.status).sort()).toEqual([201, ...Array(CONCURRENCY - 1).fill(409)])
    for (const refused of answers.filter((a) => a.status === 409)) expect(refused.body.message).toMatch(/race-host/i)
    const machines = await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM machines WHERE lower(hostname) = 'race-host'")
    expect(machines[0]!.n).toBe(1)
    const audited = await server.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'machine.registered' AND details->>'hostname' ILIKE 'race-host'"
    )
    expect(audited[0]!.n).toBe(1)
  })

  it("registers one EK once when it asks many times at once: one 201, the rest 200 created=false, one machine, one audit row, one event", async () => {
    const pem = fakeEkPem()
    const answers = await Promise.all(Array.from({ length: CONCURRENCY }, () => register(server, pem, "same-ek-host")))
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(CONCURRENCY - 1).fill(200), 201])
    expect(answers.filter((a) => a.body.created === true)).toHaveLength(1)
    const ids = new Set(answers.map((a) => a.body.machine.id))
    expect(ids.size).toBe(1)
    const [id] = [...ids]
    expect((await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE target_id = $1", [id]))[0]!.n).toBe(1)
    expect((await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE machine_id = $1", [id]))[0]!.n).toBe(1)
  })
})

describe("two host instances on one PostgreSQL database", () => {
  let a: TestServer
  let b: TestServer
  let cleanup: () => Promise<void>
  beforeAll(async () => {
    const database = await postgresDatabase(process.env.TEST_DATABASE_URL || LOCAL_POSTGRES_URL)
    cleanup = database.cleanup
    // Both instances: the same keys (the database's master key, one shared-secret key), secret_vault loaded,
    // machines read shared secrets in the header-only compatibility mode (enough to drive audited reads).
    const instanceEnv = {
      ...env,
      ITL_MACHINE_AUTH: "ek-fingerprint-header",
      ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex")
    }
    a = await startServer({ database, env: instanceEnv, extensions: [secretVault] })
    b = await startServer({ database, env: instanceEnv, extensions: [secretVault] })
  })
  afterAll(async () => {
    await b?.stop()
    await a?.stop()
    await cleanup?.()
  })

  it("audit, seal and deliver every change from both exactly once", async () => {
    // One durable consumer, running on both instances (they share its lease).
    const delivered: Array<StoredEvent> = []
    const scopes = await Promise.all([a, b].map((s) => s.run(Scope.make())))
    await Promise.all(
      [a, b].map((s, i) =>
        s.run(
          Scope.extend(
            Effect.flatMap(Events, (events) =>
              events.consume({
                name: "test.two-instances",
                startAt: "beginning",
                pollInterval: "50 millis",
                handle: (event) => Effect.sync(() => delivered.push(event))
              })
            ),
            scopes[i]!
          )
        )
      )
    )
    try {
      const perInstance = 20
      const pems = Array.from({ length: 2 * perInstance }, () => fakeEkPem())
      const registered = await Promise.all(
        pems.map((pem, i) => register(i % 2 === 0 ? a : b, pem, `multi-${i}`))
      )
      expect(registered.every((r) => r.status === 201)).toBe(true)
      const ids = registered.map((r) => r.body.machine.id as string)
      // Every machine approved twice at once, once through each instance: one wins, the other is refused.
      const approvals = await Promise.all(
        ids.flatMap((id) => [
          api(a, a.adminToken).post(`/api/v1/machines/${id}/approve`, { reason: "a" }),
          api(b, b.adminToken).post(`/api/v1/machines/${id}/approve`, { reason: "b" })
        ])
      )
      expect(approvals.filter((r) => r.status === 200)).toHaveLength(ids.length)
      expect(approvals.filter((r) => r.status === 409)).toHaveLength(ids.length)

      // A shared secret created on one instance, granted on the other, read by every machine through both at once.
      const shared = await api(a, a.adminToken).post("/api/v1/shared-secrets", { name: "multi-shared", value: "multi-value" })
      expect(shared.status).toBe(201)
      expect((await api(b, b.adminToken).post(`/api/v1/shared-secrets/${shared.body.shared_secret_id}/access`, { machine_ids: ids })).status).toBe(200)
      const fingerprints = registered.map((r) => r.body.machine.ek_fingerprint as string)
      const reads = await Promise.all(
        fingerprints.flatMap((fingerprint) =>
          [a, b].map((s) => api(s).get("/api/v1/shared-secrets/by-name/multi-shared/value", { "x-ek-fingerprint": fingerprint }))
        )
      )
      expect(reads.map((r) => r.status)).toEqual(reads.map(() => 200))

      const expectedEvents = 2 * ids.length + 1 + ids.length + 2 * ids.length
      await until(async () => delivered.length >= expectedEvents && (await api(a, a.adminToken).get("/api/v1/audit/verify")).body.pending === 0, "delivery and sealing")
      // Let both instances poll a few more times: nothing arrives twice.
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(new Set(delivered.map((e) => e.id)).size).toBe(delivered.length)
      expect(delivered.filter((e) => e.event_type === "machine.registered")).toHaveLength(ids.length)
      expect(delivered.filter((e) => e.event_type === "machine.approved")).toHaveLength(ids.length)
      expect(delivered.filter((e) => e.event_type === "shared_secret.access_granted")).toHaveLength(ids.length)
      expect(delivered.filter((e) => e.event_type === "shared_secret.accessed")).toHaveLength(2 * ids.length)
      expect(delivered).toHaveLength(expectedEvents)
      const stored = await a.sql<{ n: number }>("SELECT count(*)::int AS n FROM events")
      expect(stored[0]!.n).toBe(delivered.length)

      const audit = await a.sql<{ action: string; n: number }>(
        "SELECT action, count(*)::int AS n FROM audit_log WHERE action IN ('machine.registered', 'machine.approved', 'shared_secret.accessed') GROUP BY action ORDER BY action"
      )
      expect(audit).toEqual([
        { action: "machine.approved", n: ids.length },
        { action: "machine.registered", n: ids.length },
        { action: "shared_secret.accessed", n: 2 * ids.length }
      ])
      for (const s of [a, b]) {
        const verify = (await api(s, s.adminToken).get("/api/v1/audit/verify")).body
        expect(verify).toMatchObject({ valid: true, pending: 0, first_invalid_id: null })
        expect(verify.sealed).toBe(verify.entries)
      }
      const chain = await a.sql<{ chain_seq: string }>("SELECT chain_seq::text AS chain_seq FROM audit_log ORDER BY audit_log.chain_seq")
      expect(chain.map((r) => Number(r.chain_seq))).toEqual(chain.map((_, i) => i + 1))
    } finally {
      await Promise.all([a, b].map((s, i) => s.run(Scope.close(scopes[i]!, Exit.void))))
    }
  })
})
