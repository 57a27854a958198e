/**
 * The service secrets provider: round trips (single and batch), binary
 * plaintext, the `v1:` ciphertext form, tampered and foreign ciphertexts
 * refused with 400, and the stack key stored only wrapped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TestServer } from "../../../test-support/server.js"
import { client, startPulumiServer } from "./client.js"

let server: TestServer
let api: ReturnType<typeof client>

beforeAll(async () => {
  server = await startPulumiServer()
  api = client(server)
  for (const stack of ["one", "two"]) expect((await api.post("/api/stacks/itlusions/sec", { stackName: stack })).status).toBe(200)
}, 120_000)
afterAll(async () => server?.stop())

const S = (stack: string) => `/api/stacks/itlusions/sec/${stack}`
const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64")

describe("secrets", () => {
  it("encrypts to v1:<base64(nonce ‖ ciphertext ‖ tag)> and decrypts back, text and binary", async () => {
    const binary = Buffer.from([0, 255, 1, 128, 10, 13, 0, 0, 200])
    for (const plaintext of [Buffer.from("s3cret-password"), binary, Buffer.alloc(0)]) {
      const enc = await api.post(`${S("one")}/encrypt`, { plaintext: plaintext.toString("base64") })
      expect(enc.status).toBe(200)
      const text = Buffer.from(enc.body.ciphertext, "base64").toString("utf8")
      expect(text).toMatch(/^v1:[A-Za-z0-9+/]+=*$/)
      expect(Buffer.from(text.slice(3), "base64").length).toBe(12 + plaintext.length + 16)
      const dec = await api.post(`${S("one")}/decrypt`, { ciphertext: enc.body.ciphertext })
      expect(dec.status).toBe(200)
      expect(Buffer.from(dec.body.plaintext, "base64").equals(plaintext)).toBe(true)
    }
  })

  it("batch-encrypts in order and batch-decrypts to a map keyed by each ciphertext (gzip bodies)", async () => {
    const values = ["a", "bb", "ccc"].map(b64)
    const enc = await api.post(`${S("one")}/batch-encrypt`, { plaintexts: values }, { gzip: true })
    expect(enc.status).toBe(200)
    expect(enc.body.ciphertexts.length).toBe(3)
    const dec = await api.post(`${S("one")}/batch-decrypt`, { ciphertexts: enc.body.ciphertexts }, { gzip: true })
    expect(dec.status).toBe(200)
    expect(dec.body.plaintexts).toEqual(Object.fromEntries(enc.body.ciphertexts.map((c: string, i: number) => [c, values[i]])))
  })

  it("refuses a tampered ciphertext, another stack's, and malformed base64 with a 400 naming the field", async () => {
    const enc = await api.post(`${S("one")}/encrypt`, { plaintext: b64("value") })
    const text = Buffer.from(enc.body.ciphertext, "base64").toString("utf8")
    const raw = Buffer.from(text.slice(3), "base64")
    raw[raw.length - 20]! ^= 1
    const tampered = b64(`v1:${raw.toString("base64")}`)
    const cases: Array<[string, unknown, string]> = [
      [`${S("one")}/decrypt`, { ciphertext: tampered }, "ciphertext"],
      [`${S("two")}/decrypt`, { ciphertext: enc.body.ciphertext }, "ciphertext"],
      [`${S("one")}/decrypt`, { ciphertext: b64("v2:abcd") }, "ciphertext"],
      [`${S("one")}/decrypt`, { ciphertext: "not base64!" }, "ciphertext"],
      [`${S("one")}/decrypt`, {}, "ciphertext"],
      [`${S("one")}/batch-decrypt`, { ciphertexts: [enc.body.ciphertext, tampered] }, "ciphertexts[1]"],
      [`${S("one")}/encrypt`, { plaintext: 5 }, "plaintext"],
      [`${S("one")}/batch-encrypt`, { plaintexts: "x" }, "plaintexts"]
    ]
    for (const [path, body, field] of cases) {
      const answer = await api.post(path, body)
      expect(answer.status, `${path} ${JSON.stringify(body)}`).toBe(400)
      expect(answer.body.code).toBe(400)
      expect(answer.body.message.startsWith(`${field}: `), answer.body.message).toBe(true)
      expect(answer.text).not.toContain("value")
    }
  })

  it("stores each stack's key only wrapped by the keyring, one per stack", async () => {
    const enc = await api.post(`${S("two")}/encrypt`, { plaintext: b64("x") })
    expect(enc.status).toBe(200)
    const rows = await server.sql<{ name: string; key_id: string; wrapped_key: Uint8Array; nonce: Uint8Array; tag: Uint8Array }>(
      `SELECT s.name, k.key_id, k.wrapped_key, k.nonce, k.tag FROM extension_pulumi_state_secret_keys k JOIN extension_pulumi_state_stacks s USING (stack_id) ORDER BY s.name`
    )
    expect(rows.map((r) => r.name)).toEqual(["one", "two"])
    for (const row of rows) {
      expect(row.key_id).toMatch(/^mk-[0-9a-f]{16}$/)
      expect(Buffer.from(row.wrapped_key).length).toBe(32)
      expect(Buffer.from(row.nonce).length).toBe(12)
      expect(Buffer.from(row.tag).length).toBe(16)
    }
    // The wrapped bytes are not the key: a ciphertext does not open with them.
    const text = Buffer.from(enc.body.ciphertext, "base64").toString("utf8")
    const raw = Buffer.from(text.slice(3), "base64")
    const crypto = await import("node:crypto")
    const decipher = crypto.createDecipheriv("aes-256-gcm", Buffer.from(rows[1]!.wrapped_key), raw.subarray(0, 12))
    decipher.setAAD(Buffer.from((await server.sql<{ stack_id: string }>(`SELECT stack_id FROM extension_pulumi_state_stacks WHERE name = 'two'`))[0]!.stack_id))
    decipher.setAuthTag(raw.subarray(raw.length - 16))
    decipher.update(raw.subarray(12, raw.length - 16))
    expect(() => decipher.final()).toThrow()
  })

  it("answers 200 to the CLI's decryption audit pings", async () => {
    expect((await api.post(`${S("one")}/decrypt/log-decryption`, { secretName: "x" })).status).toBe(200)
    expect((await api.post(`${S("one")}/decrypt/log-batch-decryption`, { commandName: "pulumi stack export" })).status).toBe(200)
  })

  it("advertises batch-encrypt and delta checkpoints", async () => {
    const caps = (await api.get("/api/capabilities")).body.capabilities.map((c: any) => c.capability)
    expect(caps).toEqual(["batch-encrypt", "delta-checkpoint-uploads-v2"])
  })
})
