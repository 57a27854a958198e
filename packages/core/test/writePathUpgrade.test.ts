/**
 * Upgrading a database written before the write path lost its lock: an
 * existing consumer cursor at seq N becomes the position of event N, so the
 * consumer resumes exactly after it, and events written after the upgrade
 * follow; an existing audit chain (rows hashed with id = position, as the old
 * appender wrote them) verifies unchanged, and new rows are sealed after it.
 * The old schema is made by running the core migrations up to 0010
 * (PostgreSQL: the database is then handed to a server that runs the rest).
 */
import { Events, type StoredEvent } from "@itl-attestation/core"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Redacted, Scope } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { LOCAL_POSTGRES_URL, postgresDatabase, type FreshDatabase } from "../../../test-support/database.js"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { loadDataKey, runMigrations } from "@itl-attestation/core"
import { chainHash, GENESIS_HASH } from "../src/audit/chain.js"
import { coreMigrations } from "../src/db/coreMigrations.js"

const until = async (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

let database: FreshDatabase
let server: TestServer
let masterKey: string
beforeAll(async () => {
  // An audit key, and its wrapped form under a master key, to write an old-format chain with.
  const donor = await startServer({ database: await postgresDatabase(process.env.TEST_DATABASE_URL || LOCAL_POSTGRES_URL) })
  const key = (await donor.run(loadDataKey("audit_chain"))) as Buffer
  const [wrapped] = await donor.sql<{ purpose: string; key_id: string; nonce: Buffer; ciphertext: Buffer; tag: Buffer }>(
    "SELECT purpose, key_id, nonce, ciphertext, tag FROM keyring_wrapped_keys WHERE purpose = 'audit_chain'"
  )
  masterKey = donor.env.ITL_MASTER_KEY!
  await donor.stop()
  await donor.database.cleanup()

  database = await postgresDatabase(process.env.TEST_DATABASE_URL || LOCAL_POSTGRES_URL)
  const before = Object.fromEntries(Object.entries(coreMigrations).filter(([name]) => name < "0011"))
  await Effect.runPromise(
    runMigrations("core", before).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(database.url!) })), Effect.scoped)
  )
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  for (let n = 1; n <= 5; n++) {
    await client.query(
      "INSERT INTO events (event_type, timestamp, data) VALUES ('machine.deleted', now(), $1::jsonb)",
      [JSON.stringify({ n })]
    )
  }
  await client.query("INSERT INTO event_consumers (name, cursor) VALUES ('legacy.consumer', 3)")
  await client.query(
    "INSERT INTO keyring_wrapped_keys (purpose, key_id, nonce, ciphertext, tag) VALUES ($1, $2, $3, $4, $5)",
    [wrapped!.purpose, wrapped!.key_id, wrapped!.nonce, wrapped!.ciphertext, wrapped!.tag]
  )
  // The old appender: id = previous id + 1, hashed over that id and the previous hash.
  let prevHash = GENESIS_HASH
  for (let id = 1; id <= 3; id++) {
    const content = { id, at: new Date(Date.UTC(2026, 0, id)).toISOString(), actor: "old-admin", actor_kind: "operator", action: "machine.approved", target_type: "machine", target_id: `m${id}`, details: { reason: `r${id}` } }
    const hash = chainHash(key, prevHash, content)
    await client.query(
      "INSERT INTO audit_log (id, at, actor, actor_kind, action, target_type, target_id, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)",
      [id, content.at, content.actor, content.actor_kind, content.action, content.target_type, content.target_id, JSON.stringify(content.details), prevHash, hash]
    )
    prevHash = hash
  }
  await client.end()
  server = await startServer({ database, env: { ITL_MASTER_KEY: masterKey } })
})
afterAll(async () => {
  await server?.stop()
  await database?.cleanup()
})

describe("the upgrade to transaction-ordered consumers", () => {
  it("keeps an existing cursor at the same event: lag counts what follows, delivery resumes after it, new events follow", async () => {
    const admin = api(server, server.adminToken)
    const status = (await admin.get("/api/v1/events/consumers")).body.consumers.find((c: any) => c.name === "legacy.consumer")
    expect(status).toMatchObject({ cursor: 3, lag: 2 })
    const delivered: Array<StoredEvent> = []
    const scope = await server.run(Scope.make())
    try {
      await server.run(
        Scope.extend(
          Effect.flatMap(Events, (events) =>
            events.consume({ name: "legacy.consumer", pollInterval: "20 millis", handle: (event) => Effect.sync(() => delivered.push(event)) })
          ),
          scope
        )
      )
      await until(() => delivered.length >= 2, "the two events after the cursor")
      const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "after-upgrade" })
      expect(registered.status).toBe(201)
      await until(() => delivered.some((e) => e.event_type === "machine.registered"), "the event written after the upgrade")
      expect(delivered.map((e) => e.seq)).toEqual([4, 5, 6])
    } finally {
      await server.run(Scope.close(scope, Exit.void))
    }
  })

  it("verifies the existing chain unchanged and seals new rows after it", async () => {
    const admin = api(server, server.adminToken)
    await until(async () => (await admin.get("/api/v1/audit/verify")).body.pending === 0, "sealing")
    const verify = (await admin.get("/api/v1/audit/verify")).body
    expect(verify).toMatchObject({ valid: true, pending: 0, first_invalid_id: null })
    expect(verify.sealed).toBeGreaterThan(3)
    const rows = await server.sql<{ id: string; chain_seq: string; actor: string }>(
      "SELECT id::text AS id, chain_seq::text AS chain_seq, actor FROM audit_log ORDER BY audit_log.chain_seq"
    )
    expect(rows.slice(0, 3).map((r) => [Number(r.id), Number(r.chain_seq), r.actor])).toEqual([[1, 1, "old-admin"], [2, 2, "old-admin"], [3, 3, "old-admin"]])
    expect(rows.map((r) => Number(r.chain_seq))).toEqual(rows.map((_, i) => i + 1))
    // A rewritten pre-upgrade row is still caught.
    await server.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    await server.sql("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    expect((await admin.get("/api/v1/audit/verify")).body).toMatchObject({ valid: false, first_invalid_id: 2 })
  })
})
