/**
 * Unique names hold against concurrent identical requests (no global lock on
 * the write path): the database's unique constraint decides, and every loser
 * gets the same 409 a later request would, never a 500.
 */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

const CONCURRENCY = 16
let server: TestServer
let admin: ReturnType<typeof api>
beforeAll(async () => {
  server = await startServer({
    extensions: [secretVault],
    env: { ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") }
  })
  admin = api(server, server.adminToken)
})
afterAll(() => server?.stop())

describe("concurrent creates of one name", () => {
  it("shared secret: one 201, every other 409 naming the field, one row, one audit row", async () => {
    const answers = await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) => admin.post("/api/v1/shared-secrets", { name: "race-shared", value: `v${i}` }))
    )
    expect(answers.map((a) => a.status).sort()).toEqual([201, ...Array(CONCURRENCY - 1).fill(409)])
    for (const refused of answers.filter((a) => a.status === 409)) expect(refused.body.message).toContain("race-shared")
    expect((await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM extension_shared_secrets WHERE name = 'race-shared'"))[0]!.n).toBe(1)
    expect((await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE action = 'shared_secret.created'"))[0]!.n).toBe(1)
  })

  it("machine secret: one 201, every other 409, one row, one audit row", async () => {
    const machine = (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "race-vault" })).body.machine.id
    const answers = await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) => admin.post(`/api/v1/secrets/machines/${machine}/secrets`, { name: "race-secret", value: `v${i}` }))
    )
    expect(answers.map((a) => a.status).sort()).toEqual([201, ...Array(CONCURRENCY - 1).fill(409)])
    expect((await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM extension_secrets WHERE name = 'race-secret'"))[0]!.n).toBe(1)
    expect((await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE action = 'secret.created'"))[0]!.n).toBe(1)
  })
})
