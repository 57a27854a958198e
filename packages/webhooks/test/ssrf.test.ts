/**
 * The SSRF guard: private, loopback and metadata targets refused when a
 * webhook is saved (400 naming `url`), and checked again at delivery, where a
 * host name that now resolves to a refused address is a recorded failure and
 * no request leaves.
 */
import { post, refusalOf, webhooks } from "@itl-attestation/webhooks"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FreshDatabase, freshDatabase } from "../../../test-support/database.js"
import { api, startServer, type TestServer } from "../../../test-support/server.js"
import { type Receiver, startReceiver, until } from "./receiver.js"

let database: FreshDatabase
let server: TestServer
let receiver: Receiver
const vaultless = { ITL_WEBHOOK_RETRY_SCHEDULE: "100ms" }

beforeAll(async () => {
  database = await freshDatabase()
  receiver = await startReceiver()
})
afterAll(async () => {
  await server?.stop()
  await receiver?.close()
  await database?.cleanup()
})

describe("addresses", () => {
  const refused: Array<[string, RegExp]> = [
    ["127.0.0.1", /loopback/],
    ["10.1.2.3", /private/],
    ["172.31.255.255", /private/],
    ["192.168.0.1", /private/],
    ["100.64.0.1", /CGNAT/],
    ["169.254.1.1", /link-local/],
    ["::1", /loopback/],
    ["fd12:3456::1", /ULA/],
    ["fe80::1", /link-local/],
    ["::ffff:127.0.0.1", /embeds 127\.0\.0\.1.*loopback/],
    ["::ffff:7f00:1", /embeds 127\.0\.0\.1/],
    ["64:ff9b::a00:1", /embeds 10\.0\.0\.1/],
    ["0.0.0.0", /unspecified/],
    ["::", /unspecified/],
    ["224.0.0.1", /multicast/],
    ["ff02::1", /multicast/]
  ]
  for (const [address, reason] of refused) {
    it(`refuses ${address}, and allows it with ITL_WEBHOOK_ALLOW_PRIVATE unless it is not unicast`, () => {
      expect(refusalOf(address, false)).toMatch(reason)
      if (/unspecified|multicast/.test(reason.source)) expect(refusalOf(address, true)).toMatch(reason)
      else expect(refusalOf(address, true)).toBeUndefined()
    })
  }
  for (const metadata of ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "169.254.170.2", "100.100.100.200"]) {
    it(`refuses the metadata address ${metadata} whatever ITL_WEBHOOK_ALLOW_PRIVATE says`, () => {
      expect(refusalOf(metadata, true)).toMatch(/metadata/)
      expect(refusalOf(metadata, false)).toMatch(/metadata/)
    })
  }
  for (const address of ["93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"]) {
    it(`allows the public address ${address}`, () => expect(refusalOf(address, false)).toBeUndefined())
  }
})

describe("address pinning", () => {
  it("connects to the checked address, whatever the URL's host name resolves to (here: nothing)", async () => {
    const port = new URL(receiver.url).port
    const before = receiver.received.length
    const answer = await Effect.runPromise(
      post({
        url: new URL(`http://pinned.invalid:${port}/pinned`),
        address: { address: "127.0.0.1", family: 4 },
        headers: { "content-type": "application/json" },
        body: "{}",
        timeoutMs: 5000,
        attemptTimeoutMs: 5000
      })
    )
    expect(answer.status).toBe(200)
    const got = receiver.received[before]!
    expect(got.path).toBe("/pinned")
    // The Host header still names the URL's host (virtual hosts, TLS names): only the address is pinned.
    expect(got.headers.host).toBe(`pinned.invalid:${port}`)
    receiver.received.splice(before)
  })
})

describe("at create time and at delivery", () => {
  it("refuses private targets at create time without ITL_WEBHOOK_ALLOW_PRIVATE, whatever the URL's spelling", async () => {
    server = await startServer({ extensions: [webhooks], database, env: vaultless })
    const admin = api(server, server.adminToken)
    for (const url of [
      "http://127.0.0.1:8080/",
      "http://localhost/",
      "http://2130706433/",
      "http://0x7f.1/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "https://10.0.0.1/",
      "http://192.168.1.1/"
    ]) {
      const answer = await admin.post("/api/v1/webhooks", { url, events: ["*"] })
      expect(answer.status, url).toBe(400)
      expect(answer.body.message).toMatch(/^url: /)
      expect(answer.body.details).toEqual({ fields: ["url"] })
    }
    expect((await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM extension_webhooks"))[0]!.n).toBe(0)
    await server.stop()
  })

  it("checks the address again at delivery: a name that now resolves to a refused address gets no request", async () => {
    // Saved while private targets were allowed (as if its DNS answer was public then) …
    server = await startServer({ extensions: [webhooks], database, env: { ...vaultless, ITL_WEBHOOK_ALLOW_PRIVATE: "true" } })
    const port = new URL(receiver.url).port
    const created = await api(server, server.adminToken).post("/api/v1/webhooks", { url: `http://localhost:${port}/hook`, events: ["webhook.test"] })
    expect(created.status, created.text).toBe(201)
    await server.stop()
    // … delivered after that changed.
    server = await startServer({ extensions: [webhooks], database, env: vaultless })
    const admin = api(server, server.adminToken)
    expect((await admin.post(`/api/v1/webhooks/${created.body.webhook_id}/test`)).status).toBe(202)
    const attempts = await until("the refused attempts", async () => {
      const h = (await admin.get(`/api/v1/webhooks/${created.body.webhook_id}/deliveries`)).body.deliveries
      return h.length === 2 && h.every((d: any) => d.state === "failed") ? h : undefined
    })
    expect(attempts[0].error).toMatch(/^refused: localhost resolves to (127\.0\.0\.1|::1) is a loopback address/)
    expect(attempts[0].response_status).toBeNull()
    expect(receiver.received).toEqual([])
  })
})

describe("configuration", () => {
  for (const [variable, value] of [
    ["ITL_WEBHOOK_RETRY_SCHEDULE", "5s,soon"],
    ["ITL_WEBHOOK_TIMEOUT", "0s"],
    ["ITL_WEBHOOK_DISABLE_AFTER", "0"],
    ["ITL_WEBHOOK_CONCURRENCY", "many"],
    ["ITL_WEBHOOK_ALLOW_PRIVATE", "perhaps"],
    ["ITL_WEBHOOK_HISTORY_RETENTION", "forever"]
  ] as const) {
    it(`stops the start on a malformed ${variable}, naming it`, async () => {
      await expect(startServer({ extensions: [webhooks], env: { [variable]: value } })).rejects.toThrow(variable)
    })
  }
})
