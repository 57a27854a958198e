/** secret_vault under hostile text: a secret value is stored exactly or refused, never altered. */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let admin: ReturnType<typeof api>
let machineId: string

const rows = async (table: string) => (await server.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n

beforeAll(async () => {
  server = await startServer({
    extensions: [secretVault],
    env: { ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") }
  })
  admin = api(server, server.adminToken)
  machineId = (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "vault-hardening" })).body.machine.id
})
afterAll(() => server?.stop())

describe("secret values and descriptions", () => {
  for (const [what, text, message] of [
    ["an unpaired surrogate", "a\ud800b", "must not contain unpaired surrogates (not valid Unicode)"],
    ["a NUL character", "a\u0000b", "must not contain NUL characters"]
  ] as const) {
    it(`refuses ${what} with 400 naming the field, storing nothing`, async () => {
      const [shared, machine] = [await rows("extension_shared_secrets"), await rows("extension_secrets")]
      const value = await admin.post("/api/v1/shared-secrets", { name: "s1", value: text })
      expect(value.status).toBe(400)
      expect(value.body).toMatchObject({ error: "bad_request", message: `value: ${message}`, details: { fields: ["value"] } })
      const description = await admin.post("/api/v1/shared-secrets", { name: "s2", value: "ok", description: text })
      expect(description.status).toBe(400)
      expect(description.body.message).toBe(`description: ${message}`)
      const machineValue = await admin.post(`/api/v1/secrets/machines/${machineId}/secrets`, { name: "m1", value: text })
      expect(machineValue.status).toBe(400)
      expect(machineValue.body.message).toBe(`value: ${message}`)
      expect(await rows("extension_shared_secrets")).toBe(shared)
      expect(await rows("extension_secrets")).toBe(machine)
    })
  }

  it("refuses an altered rotation and keeps the old value", async () => {
    const created = await admin.post("/api/v1/shared-secrets", { name: "rotate-me", value: "before" })
    expect(created.status).toBe(201)
    const rotated = await admin.put(`/api/v1/shared-secrets/${created.body.shared_secret_id}`, { value: "x\udfffy" })
    expect(rotated.status).toBe(400)
    expect(rotated.body.message).toBe("value: must not contain unpaired surrogates (not valid Unicode)")
    const after = await admin.get(`/api/v1/shared-secrets/${created.body.shared_secret_id}`)
    expect(after.body.last_rotated_at).toBeNull()
  })
})
