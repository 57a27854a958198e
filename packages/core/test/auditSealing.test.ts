/**
 * The audit chain without a lock: rows are written unsealed by concurrent
 * writers and linked by the background sealer. Through the exported library
 * API (AuditedChanges) and real HTTP (/api/v1/audit, /api/v1/audit/verify).
 */
import { AuditedChanges, systemActor } from "@itl-attestation/core"
import { Effect } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, startServer, type TestServer } from "../../../test-support/server.js"

const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

let server: TestServer
let admin: ReturnType<typeof api>
beforeAll(async () => {
  server = await startServer()
  admin = api(server, server.adminToken)
})
afterAll(() => server?.stop())

const change = (n: number) =>
  server.run(
    Effect.flatMap(AuditedChanges, (changes) =>
      changes.run(systemActor, Effect.succeed(n), () => ({
        action: "test.sealed",
        targetType: "test",
        targetId: String(n),
        details: { n }
      }))
    )
  )

const verify = async () => (await admin.get("/api/v1/audit/verify")).body

const sealedToPending = () => until(async () => (await verify()).pending === 0, "every audit row to be sealed")

describe("the audit sealer", () => {
  it("seals 200 concurrent audited changes into one contiguous chain that verifies", async () => {
    const before = (await verify()).entries as number
    await Promise.all(Array.from({ length: 200 }, (_, n) => change(n)))
    await sealedToPending()
    const result = await verify()
    expect(result).toEqual({ valid: true, entries: before + 200, first_invalid_id: null, sealed: before + 200, pending: 0 })
    const chain = await server.sql<{ chain_seq: string; prev_hash: string; hash: string }>(
      "SELECT chain_seq::text AS chain_seq, prev_hash, hash FROM audit_log ORDER BY audit_log.chain_seq"
    )
    expect(chain.map((r) => Number(r.chain_seq))).toEqual(Array.from({ length: before + 200 }, (_, i) => i + 1))
    for (let i = 1; i < chain.length; i++) expect(chain[i]!.prev_hash).toBe(chain[i - 1]!.hash)
    // The chain follows transaction-id order, then allocation order within a transaction.
    const byTxid = await server.sql<{ chain_seq: string }>("SELECT chain_seq::text AS chain_seq FROM audit_log ORDER BY audit_log.txid, audit_log.id")
    expect(byTxid.map((r) => Number(r.chain_seq))).toEqual(chain.map((r) => Number(r.chain_seq)))
    const listed = (await admin.get("/api/v1/audit?action=test.sealed&limit=500")).body
    expect(listed.total).toBe(200)
    expect(listed.entries.every((e: any) => typeof e.chain_seq === "number" && typeof e.hash === "string")).toBe(true)
  })

  it.runIf(process.env.TEST_DATABASE_URL)("does not seal past a transaction still open; lists the rows waiting with null chain position and hashes and counts them as pending", async () => {
    await sealedToPending()
    // An older transaction that has written (it has a transaction id) and stays open holds the horizon back.
    // (PostgreSQL only: on PGlite an open transaction holds the one connection, and nothing else could run.)
    const holder = new pg.Client({ connectionString: server.database.url })
    await holder.connect()
    try {
      await holder.query("BEGIN")
      await holder.query("SELECT pg_current_xact_id()")
      await change(5000)
      const listed = (await admin.get("/api/v1/audit?action=test.sealed&target_id=5000")).body.entries
      expect(listed).toHaveLength(1)
      expect(listed[0]).toMatchObject({ chain_seq: null, prev_hash: null, hash: null })
      expect(await verify()).toMatchObject({ valid: true, pending: 1 })
      await holder.query("COMMIT")
      await sealedToPending()
      const sealed = (await admin.get("/api/v1/audit?action=test.sealed&target_id=5000")).body.entries[0]
      expect(sealed.chain_seq).toBeGreaterThan(0)
      expect(sealed.hash).toMatch(/^[0-9a-f]{64}$/)
    } finally {
      await holder.end()
    }
  })

  it.runIf(process.env.TEST_DATABASE_URL)("leaves nothing half-sealed when the sealer's connection dies mid-batch, and the next pass seals everything", async () => {
    const url = server.database.url!
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await sealedToPending()
      const sealedBefore = (await verify()).sealed as number
      // A trap: while the flag row exists, sealing any row stalls inside the sealer's transaction.
      await client.query("CREATE TABLE sealer_trap (armed boolean)")
      await client.query("INSERT INTO sealer_trap VALUES (true)")
      await client.query(`CREATE FUNCTION sealer_trap() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF EXISTS (SELECT 1 FROM sealer_trap) THEN PERFORM pg_sleep(60); END IF; RETURN NEW; END $$`)
      await client.query("CREATE TRIGGER a_sealer_trap BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION sealer_trap()")
      await Promise.all(Array.from({ length: 30 }, (_, n) => change(1000 + n)))
      const stalled = async () =>
        (await client.query(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%jsonb_to_recordset%' AND pid <> pg_backend_pid() AND state = 'active'"
        )).rows as Array<{ pid: number }>
      await until(async () => (await stalled()).length > 0, "the sealer to stall mid-batch")
      // What kill -9 of the process looks like to the database: the connection goes, the transaction with it.
      for (const { pid } of await stalled()) await client.query("SELECT pg_terminate_backend($1)", [pid])
      const after = await client.query(
        "SELECT count(*) FILTER (WHERE chain_seq IS NULL)::int AS unsealed, count(chain_seq)::int AS sealed FROM audit_log"
      )
      expect(after.rows[0]).toEqual({ unsealed: 30, sealed: sealedBefore })
      // Disarm: the sealer, retrying, seals the whole batch.
      await client.query("DELETE FROM sealer_trap")
      for (const { pid } of await stalled()) await client.query("SELECT pg_terminate_backend($1)", [pid])
      await sealedToPending()
      expect(await verify()).toMatchObject({ valid: true, sealed: sealedBefore + 30, pending: 0 })
      await client.query("DROP TRIGGER a_sealer_trap ON audit_log")
    } finally {
      await client.end()
    }
  })

  it("detects a forged row inserted into the sealed chain", async () => {
    await sealedToPending()
    const { sealed } = await verify()
    await server.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    // Make room at position 3 and insert a row there that claims to link to position 2.
    await server.sql("UPDATE audit_log SET chain_seq = -chain_seq WHERE chain_seq >= 3")
    await server.sql("UPDATE audit_log SET chain_seq = -chain_seq + 1 WHERE chain_seq < 0")
    await server.sql(
      `INSERT INTO audit_log (at, actor, actor_kind, action, target_type, target_id, details, chain_seq, prev_hash, hash)
       SELECT now(), 'mallory', 'operator', 'machine.approved', 'machine', 'x', '{}', 3, hash, repeat('a', 64)
       FROM audit_log WHERE chain_seq = 2`
    )
    expect(await verify()).toMatchObject({ valid: false, first_invalid_id: 3, sealed: sealed + 1 })
  })
})
