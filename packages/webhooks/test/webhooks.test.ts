/**
 * The webhooks extension through real HTTP: operators register endpoints,
 * platform events reach them signed (checked with the standardwebhooks
 * package, a plain HMAC and the Python snippet of docs/webhooks.md), failures
 * are retried (Retry-After honoured), 410 and repeated failures disable, no
 * redirect is followed, and a hanging endpoint does not hold up another.
 */
import { defineEvent, defineExtension, DomainEvent, Events } from "@itl-attestation/core"
import { secretVault } from "@itl-attestation/secret-vault"
import { webhooks } from "@itl-attestation/webhooks"
import { DateTime, Effect, Schema } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Webhook as StandardWebhook } from "standardwebhooks"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { type Receiver, startReceiver, until } from "./receiver.js"

/** An extension loaded after webhooks, declaring a type webhooks never heard of. */
const later = defineExtension({
  name: "later_ext",
  version: "1.0.0",
  description: "declares an event type after webhooks loaded",
  core: "^2.0.0",
  migrations: {},
  events: [defineEvent({ type: "later_ext.thing_done", description: "a thing was done", payload: Schema.Struct({ thing: Schema.String }) })]
})

let server: TestServer
let admin: ReturnType<typeof api>
const receivers: Array<Receiver> = []
const receiver = async () => {
  const r = await startReceiver()
  receivers.push(r)
  return r
}

beforeAll(async () => {
  server = await startServer({
    extensions: [secretVault, webhooks, later],
    env: {
      ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex"),
      ITL_WEBHOOK_ALLOW_PRIVATE: "true",
      ITL_WEBHOOK_RETRY_SCHEDULE: "100ms,1500ms",
      ITL_WEBHOOK_TIMEOUT: "3s",
      ITL_WEBHOOK_DISABLE_AFTER: "2"
    }
  })
  admin = api(server, server.adminToken)
})
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()))
  await server?.stop()
})

const create = async (body: Record<string, unknown>) => {
  const created = await admin.post("/api/v1/webhooks", body)
  expect(created.status, created.text).toBe(201)
  return created.body
}
const registerMachine = async (hostname: string) => {
  const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname })
  expect(registered.status, registered.text).toBe(201)
  return registered.body.machine.id as string
}
const history = async (id: string) => (await admin.get(`/api/v1/webhooks/${id}/deliveries?limit=500`)).body.deliveries as Array<any>
const webhookRow = async (id: string) => (await admin.get(`/api/v1/webhooks/${id}`)).body
const count = async (table: string) => (await server.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n
const appendEvent = (type: string, data: Record<string, unknown>) =>
  server.run(Effect.flatMap(Events, (events) => events.transaction(events.append(new DomainEvent({ event_type: type, timestamp: DateTime.unsafeNow(), data })))))

const plainHmacOk = (body: string, header: string, secret: string) =>
  header.split(" ").includes(`sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`)

/** The Python block of docs/webhooks.md, run as written by python3. */
const pythonVerifies = (body: string, header: string, secret: string) => {
  const doc = fs.readFileSync(path.resolve(__dirname, "../../../docs/webhooks.md"), "utf8")
  const snippet = /```python\n([\s\S]*?)```/.exec(doc)![1]!
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-webhook-py-"))
  try {
    fs.writeFileSync(path.join(dir, "body"), body)
    const script = `${snippet}\nimport sys\nprint(verify_webhook_signature(open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3]))\n`
    return execFileSync("python3", ["-c", script, path.join(dir, "body"), header, secret], { encoding: "utf8" }).trim() === "True"
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The plain node:crypto snippet of docs/webhooks.md, run as written by node. */
const nodeSnippetVerifies = (body: string, header: string, secret: string) => {
  const doc = fs.readFileSync(path.resolve(__dirname, "../../../docs/webhooks.md"), "utf8")
  const snippet = /```js\n(import \* as crypto[\s\S]*?)```/.exec(doc)![1]!
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-webhook-js-"))
  try {
    fs.writeFileSync(path.join(dir, "body"), body)
    const script = `${snippet}\nimport * as fs from "node:fs"\nconsole.log(verifyWebhookSignature(fs.readFileSync(process.argv[2]), process.argv[3], process.argv[4]))\n`
    fs.writeFileSync(path.join(dir, "verify.mjs"), script)
    return execFileSync(process.execPath, [path.join(dir, "verify.mjs"), path.join(dir, "body"), header, secret], { encoding: "utf8" }).trim() === "true"
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe("managing webhooks", () => {
  it("creates with a generated whsec_ secret shown once, never again, nor in audit rows or events", async () => {
    const r = await receiver()
    const created = await create({ url: r.url, events: ["machine.registered"] })
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
    expect(Buffer.from(created.secret.slice(6), "base64")).toHaveLength(24)
    expect(created).toMatchObject({ url: r.url, events: ["machine.registered"], enabled: true, trigger_count: 0, failure_count: 0 })
    const got = await admin.get(`/api/v1/webhooks/${created.webhook_id}`)
    expect(got.status).toBe(200)
    expect(got.text).not.toContain(created.secret)
    expect(got.body.secret).toBeUndefined()
    const listed = await admin.get("/api/v1/webhooks")
    expect(listed.body.total).toBeGreaterThanOrEqual(1)
    expect(listed.text).not.toContain(created.secret)
    const secretBytes = created.secret.slice(6)
    for (const table of ["audit_log", "events"]) {
      const dump = await server.sql<{ t: string }>(`SELECT string_agg(t::text, '\n') AS t FROM ${table} t`)
      expect(dump[0]!.t ?? "").not.toContain(secretBytes)
    }
    // At rest it is a ciphertext, not the secret.
    const stored = await server.sql<{ s: string }>("SELECT encode(secret, 'escape') AS s FROM extension_webhooks WHERE webhook_id = $1", [created.webhook_id])
    expect(stored[0]!.s).not.toContain(secretBytes)
    const audit = await server.sql<{ action: string }>("SELECT action FROM audit_log WHERE target_id = $1", [created.webhook_id])
    expect(audit.map((a) => a.action)).toEqual(["webhook.created"])
  })

  it("does not return a caller's secret", async () => {
    const created = await create({ url: "http://127.0.0.1:9/x", events: ["*"], secret: "a-caller-secret-of-some-length" })
    expect(created.secret).toBeUndefined()
  })

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ["a URL that is not one", { url: "not a url", events: ["*"] }, "url"],
    ["an ftp URL", { url: "ftp://127.0.0.1/x", events: ["*"] }, "url"],
    ["a file URL", { url: "file:///etc/passwd", events: ["*"] }, "url"],
    ["credentials in the URL", { url: "http://user:pw@127.0.0.1:9/", events: ["*"] }, "url"],
    ["an unknown event type", { url: "http://127.0.0.1:9/", events: ["machine.approved", "machine.exploded"] }, "events"],
    ["empty events", { url: "http://127.0.0.1:9/", events: [] }, "events"],
    ["a malformed event name", { url: "http://127.0.0.1:9/", events: ["Machine Approved"] }, "events"],
    ["events as a string", { url: "http://127.0.0.1:9/", events: "machine.approved" }, "events"],
    ["a short secret", { url: "http://127.0.0.1:9/", events: ["*"], secret: "short" }, "secret"],
    ["a whsec_ secret that is not base64 of 24+ bytes", { url: "http://127.0.0.1:9/", events: ["*"], secret: "whsec_abc" }, "secret"],
    ["an unknown field", { url: "http://127.0.0.1:9/", events: ["*"], colour: "red" }, "colour"],
    ["a metadata address even with ITL_WEBHOOK_ALLOW_PRIVATE", { url: "http://169.254.169.254/latest/meta-data", events: ["*"] }, "url"],
    ["the IPv6 metadata address", { url: "http://[fd00:ec2::254]/", events: ["*"] }, "url"],
    ["the metadata address mapped into IPv6", { url: "http://[::ffff:169.254.169.254]/", events: ["*"] }, "url"],
    ["an unspecified address", { url: "http://0.0.0.0:9/", events: ["*"] }, "url"]
  ]
  for (const [what, body, field] of bad) {
    it(`refuses ${what} with a 400 naming ${field}, creating nothing`, async () => {
      const [hooks, audits] = [await count("extension_webhooks"), await count("audit_log")]
      const answer = await admin.post("/api/v1/webhooks", body)
      expect(answer.status, answer.text).toBe(400)
      expect(answer.body.message).toContain(field)
      expect(await count("extension_webhooks")).toBe(hooks)
      expect(await count("audit_log")).toBe(audits)
    })
  }

  it("refuses a bad update with a 400 naming the field and changes nothing", async () => {
    const created = await create({ url: "http://127.0.0.1:9/keep", events: ["machine.approved"] })
    for (const [body, field] of [
      [{ url: "gopher://127.0.0.1/" }, "url"],
      [{ events: [] }, "events"],
      [{ events: ["nope.nothing"] }, "events"],
      [{ enabled: "yes" }, "enabled"]
    ] as const) {
      const answer = await admin.put(`/api/v1/webhooks/${created.webhook_id}`, body)
      expect(answer.status, answer.text).toBe(400)
      expect(answer.body.message).toContain(field)
    }
    expect(await webhookRow(created.webhook_id)).toMatchObject({ url: "http://127.0.0.1:9/keep", events: ["machine.approved"], enabled: true })
  })

  it("404s an unknown webhook and needs an operator token with the webhooks scopes", async () => {
    const unknown = crypto.randomUUID()
    expect((await admin.get(`/api/v1/webhooks/${unknown}`)).status).toBe(404)
    expect((await admin.put(`/api/v1/webhooks/${unknown}`, { enabled: false })).status).toBe(404)
    expect((await admin.delete(`/api/v1/webhooks/${unknown}`)).status).toBe(404)
    expect((await admin.post(`/api/v1/webhooks/${unknown}/test`)).status).toBe(404)
    expect((await api(server).get("/api/v1/webhooks")).status).toBe(401)
    const viewer = (await admin.post("/api/v1/operators/tokens", { name: "wh-viewer", role: "viewer" })).body.token
    expect((await api(server, viewer).get("/api/v1/webhooks")).status).toBe(403)
    const operator = (await admin.post("/api/v1/operators/tokens", { name: "wh-operator", role: "operator" })).body.token
    expect((await api(server, operator).get("/api/v1/webhooks")).status).toBe(200)
  })

  it("accepts an event type of an extension loaded after it", async () => {
    const r = await receiver()
    await create({ url: r.url, events: ["later_ext.thing_done"] })
    await appendEvent("later_ext.thing_done", { thing: "done" })
    const got = await until("the later extension's event", () => r.received[0])
    expect(got.json).toEqual({ event_type: "later_ext.thing_done", timestamp: expect.any(String), machine_id: null, data: { thing: "done" } })
  })
})

describe("delivery", () => {
  it("sends each subscribed event, signed so that standardwebhooks, a plain HMAC and the Python snippet accept it", async () => {
    const exact = await receiver()
    const all = await receiver()
    const other = await receiver()
    const secret = "whsec_" + crypto.randomBytes(32).toString("base64")
    const a = await create({ url: exact.url + "/hook", events: ["machine.registered"], secret })
    const b = await create({ url: all.url, events: ["*"] })
    await create({ url: other.url, events: ["machine.revoked"] })
    const machineId = await registerMachine("signed-1")
    const got = await until("the signed delivery", () => exact.received.find((m) => m.json?.data?.hostname === "signed-1"))
    expect(got.path).toBe("/hook")
    expect(got.json).toEqual({ event_type: "machine.registered", timestamp: expect.any(String), machine_id: machineId, data: expect.objectContaining({ hostname: "signed-1" }) })
    expect(Number.isNaN(Date.parse(got.json.timestamp))).toBe(false)
    expect(got.headers["content-type"]).toBe("application/json")
    expect(got.headers["x-webhook-event"]).toBe("machine.registered")
    expect(got.headers["user-agent"]).toMatch(/^ITL-Attestation-Webhooks\//)
    // Independent verifiers.
    expect(new StandardWebhook(secret).verify(got.body, got.headers as Record<string, string>)).toEqual(got.json)
    expect(() => new StandardWebhook("whsec_" + crypto.randomBytes(32).toString("base64")).verify(got.body, got.headers as Record<string, string>)).toThrow()
    const header = got.headers["x-webhook-signature"] as string
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/)
    expect(plainHmacOk(got.body, header, secret)).toBe(true)
    expect(pythonVerifies(got.body, header, secret)).toBe(true)
    expect(pythonVerifies(got.body + " ", header, secret)).toBe(false)
    expect(pythonVerifies(got.body, header, secret + "x")).toBe(false)
    expect(nodeSnippetVerifies(got.body, header, secret)).toBe(true)
    expect(nodeSnippetVerifies(got.body + " ", header, secret)).toBe(false)
    // `*` gets it too; a webhook of another type does not.
    await until("the * delivery", () => all.received.find((m) => m.json?.data?.hostname === "signed-1"))
    await until("history of a", async () => (await history(a.webhook_id)).find((d) => d.state === "succeeded"))
    expect(other.received.filter((m) => m.json?.data?.hostname === "signed-1")).toEqual([])
    const [delivery] = await history(a.webhook_id)
    expect(delivery).toMatchObject({ event_type: "machine.registered", attempt: 1, state: "succeeded", response_status: 200, response_body: "ok", trigger: "event", error: null })
    expect(delivery.message_id).toBe(got.headers["webhook-id"])
    expect(delivery.payload).toBe(got.body)
    expect(delivery.duration_ms).toBeGreaterThanOrEqual(0)
    expect(await webhookRow(a.webhook_id)).toMatchObject({ trigger_count: 1, failure_count: 0, consecutive_failures: 0, last_triggered_at: expect.any(String) })
    expect(b.secret).toMatch(/^whsec_/)
  })

  it("signs a non-whsec secret so that standardwebhooks in raw format and the plain check accept it", async () => {
    const r = await receiver()
    const secret = "plain-secret-" + crypto.randomBytes(8).toString("hex")
    const hook = await create({ url: r.url, events: ["webhook.test"], secret })
    expect((await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)).status).toBe(202)
    const got = await until("the test message", () => r.received[0])
    expect(got.json).toEqual({ event_type: "webhook.test", timestamp: expect.any(String), machine_id: null, data: { webhook_id: hook.webhook_id } })
    expect(new StandardWebhook(secret, { format: "raw" }).verify(got.body, got.headers as Record<string, string>)).toEqual(got.json)
    expect(plainHmacOk(got.body, got.headers["x-webhook-signature"] as string, secret)).toBe(true)
    expect(pythonVerifies(got.body, got.headers["x-webhook-signature"] as string, secret)).toBe(true)
  })

  it("delivers secret_vault's events, without the secret's value", async () => {
    const r = await receiver()
    await create({ url: r.url, events: ["secret.created"] })
    const machineId = await registerMachine("vault-1")
    const value = "hunter2-" + crypto.randomBytes(8).toString("hex")
    expect((await admin.post(`/api/v1/secrets/machines/${machineId}/secrets`, { name: "db", value })).status).toBe(201)
    const got = await until("secret.created", () => r.received[0])
    expect(got.json).toMatchObject({ event_type: "secret.created", machine_id: machineId, data: { name: "db" } })
    expect(got.body).not.toContain(value)
  })

  it("retries a failed attempt with the same webhook-id and records each attempt; counters stay true", async () => {
    const r = await receiver()
    r.reply = (_m, i) => (i === 0 ? { status: 500, body: "x".repeat(10_000) } : { status: 204 })
    const hook = await create({ url: r.url, events: ["webhook.test"] })
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    await until("the retry", () => r.received[1])
    expect(r.received[1]!.headers["webhook-id"]).toBe(r.received[0]!.headers["webhook-id"])
    expect(r.received[1]!.body).toBe(r.received[0]!.body)
    const attempts = await until("both attempts recorded", async () => {
      const h = await history(hook.webhook_id)
      return h.length === 2 && h[0].state === "succeeded" ? h : undefined
    })
    expect(attempts[1]).toMatchObject({ attempt: 1, state: "failed", response_status: 500, error: "HTTP 500" })
    expect(Buffer.byteLength(attempts[1].response_body)).toBe(4096)
    expect(attempts[0]).toMatchObject({ attempt: 2, state: "succeeded", response_status: 204 })
    expect(await webhookRow(hook.webhook_id)).toMatchObject({ trigger_count: 2, failure_count: 1, consecutive_failures: 0 })
  })

  it("waits as long as Retry-After asks before the next attempt (within the schedule's last step)", async () => {
    const r = await receiver()
    r.reply = (_m, i) => (i === 0 ? { status: 503, headers: { "retry-after": "1" } } : { status: 200 })
    const hook = await create({ url: r.url, events: ["webhook.test"] })
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    const attempts = await until("the second attempt", async () => {
      const h = await history(hook.webhook_id)
      return h.length === 2 && h[0].state === "succeeded" ? h : undefined
    })
    // The schedule says 100 ms (±20%); the endpoint asked for 1 s.
    const first = attempts[1]
    const second = attempts[0]
    expect(Date.parse(second.next_attempt_at) - Date.parse(first.delivered_at)).toBeGreaterThanOrEqual(1000)
    expect(Date.parse(second.delivered_at)).toBeGreaterThanOrEqual(Date.parse(second.next_attempt_at))
  })

  it("disables the webhook on 410 Gone, with a webhook.disabled event and no further attempt", async () => {
    const r = await receiver()
    const watcher = await receiver()
    r.reply = () => ({ status: 410 })
    const hook = await create({ url: r.url, events: ["webhook.test"] })
    await create({ url: watcher.url, events: ["webhook.disabled"] })
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    const notice = await until("webhook.disabled", () => watcher.received.find((m) => m.json?.data?.webhook_id === hook.webhook_id))
    expect(notice.json).toEqual({ event_type: "webhook.disabled", timestamp: expect.any(String), machine_id: null, data: { webhook_id: hook.webhook_id, reason: "the endpoint answered 410 Gone" } })
    expect(notice.body).not.toContain(r.url)
    expect(await webhookRow(hook.webhook_id)).toMatchObject({ enabled: false, disabled_reason: "the endpoint answered 410 Gone", trigger_count: 1, failure_count: 1 })
    expect(r.received).toHaveLength(1)
    expect((await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)).status).toBe(409)
    const audit = await server.sql<{ action: string; actor: string }>("SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id", [hook.webhook_id])
    expect(audit.map((a) => a.action)).toEqual(["webhook.created", "webhook.tested", "webhook.disabled"])
  })

  it("does not follow a redirect: a 3xx is a failed attempt", async () => {
    const target = await receiver()
    const r = await receiver()
    r.reply = () => ({ status: 302, headers: { location: target.url + "/elsewhere" } })
    const hook = await create({ url: r.url, events: ["webhook.test"] })
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    const attempts = await until("three failed attempts", async () => {
      const h = await history(hook.webhook_id)
      return h.length === 3 && h.every((d) => d.state === "failed") ? h : undefined
    })
    expect(attempts[0].error).toBe(`HTTP 302: redirects are not followed (Location: ${target.url}/elsewhere)`)
    expect(target.received).toEqual([])
  })

  it("disables after ITL_WEBHOOK_DISABLE_AFTER messages in a row failed every attempt", async () => {
    const r = await receiver()
    r.reply = () => ({ status: 500 })
    const hook = await create({ url: r.url, events: ["webhook.test"] })
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    await until("the first message to fail", async () => (await webhookRow(hook.webhook_id)).consecutive_failures === 1)
    expect((await webhookRow(hook.webhook_id)).enabled).toBe(true)
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    const off = await until("disabled", async () => {
      const w = await webhookRow(hook.webhook_id)
      return w.enabled ? undefined : w
    })
    expect(off).toMatchObject({ disabled_reason: "2 consecutive messages failed every attempt", trigger_count: 6, failure_count: 6, consecutive_failures: 2 })
    const events = await server.sql<{ data: any }>("SELECT data FROM events WHERE event_type = 'webhook.disabled' AND data->>'webhook_id' = $1", [hook.webhook_id])
    expect(events).toHaveLength(1)
    // Enabling again starts the count afresh.
    const on = await admin.put(`/api/v1/webhooks/${hook.webhook_id}`, { enabled: true })
    expect(on.body).toMatchObject({ enabled: true, disabled_reason: null, consecutive_failures: 0 })
  })

  it("records a connection error and a timeout as failed attempts", async () => {
    const closed = await receiver()
    const url = closed.url
    await closed.close()
    const hook = await create({ url, events: ["webhook.test"] })
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    const first = await until("a failed attempt", async () => (await history(hook.webhook_id)).find((d) => d.state === "failed"))
    expect(first.error).toMatch(/ECONNREFUSED/)
    expect(first.response_status).toBeNull()

    // An endpoint that never answers: the attempt ends at ITL_WEBHOOK_TIMEOUT (3 s here) and is retried.
    const silent = await receiver()
    silent.reply = (_m, i) => (i === 0 ? "hang" : { status: 200 })
    const slow = await create({ url: silent.url, events: ["webhook.test"] })
    await admin.post(`/api/v1/webhooks/${slow.webhook_id}/test`)
    const attempts = await until("the timed-out attempt and its retry", async () => {
      const h = await history(slow.webhook_id)
      return h.length === 2 && h[0].state === "succeeded" ? h : undefined
    })
    expect(attempts[1]).toMatchObject({ state: "failed", error: "timed out after 3000 ms", response_status: null })
    expect(attempts[1].duration_ms).toBeGreaterThanOrEqual(3000)
    expect(silent.received[1]!.headers["webhook-id"]).toBe(silent.received[0]!.headers["webhook-id"])
  })

  it("keeps delivering to other webhooks while one endpoint hangs", async () => {
    const slow = await receiver()
    const fast = await receiver()
    slow.reply = () => "hang"
    const slowHook = await create({ url: slow.url, events: ["webhook.test"] })
    const fastHook = await create({ url: fast.url, events: ["webhook.test"] })
    await admin.post(`/api/v1/webhooks/${slowHook.webhook_id}/test`)
    await until("the slow endpoint to hold a request", () => slow.hanging() === 1)
    await admin.post(`/api/v1/webhooks/${fastHook.webhook_id}/test`)
    await admin.post(`/api/v1/webhooks/${fastHook.webhook_id}/test`)
    await until("both fast deliveries", () => fast.received.length === 2)
    // The slow endpoint still holds its first request, unanswered.
    expect(slow.hanging()).toBe(1)
    expect(slow.received).toHaveLength(1)
    slow.release()
  })
})

describe("redelivery, replay, rotation", () => {
  it("redelivers one message with the same webhook-id, and replays every message since a time", async () => {
    const r = await receiver()
    const hook = await create({ url: r.url, events: ["machine.registered"] })
    const since = new Date().toISOString()
    await registerMachine("replay-1")
    await registerMachine("replay-2")
    await until("two deliveries", () => r.received.length === 2)
    const [latest] = await until("history", async () => {
      const h = await history(hook.webhook_id)
      return h.length === 2 && h.every((d) => d.state === "succeeded") ? h : undefined
    })
    const again = await admin.post(`/api/v1/webhooks/${hook.webhook_id}/deliveries/${latest.delivery_id}/redeliver`)
    expect(again.status, again.text).toBe(202)
    expect(again.body).toMatchObject({ message_id: latest.message_id, trigger: "redeliver", attempt: 1, state: "pending" })
    await until("the redelivery", () => r.received.length === 3)
    expect(r.received[2]!.headers["webhook-id"]).toBe(latest.message_id)
    expect(r.received[2]!.body).toBe(latest.payload)
    expect((await admin.post(`/api/v1/webhooks/${hook.webhook_id}/deliveries/${crypto.randomUUID()}/redeliver`)).status).toBe(404)
    const replay = await admin.post(`/api/v1/webhooks/${hook.webhook_id}/replay`, { since })
    expect(replay.status, replay.text).toBe(202)
    expect(replay.body).toEqual({ replayed: 2 })
    await until("the replay", () => r.received.length === 5)
    expect(new Set(r.received.slice(3).map((m) => m.headers["webhook-id"]))).toEqual(new Set(r.received.slice(0, 2).map((m) => m.headers["webhook-id"])))
    expect((await admin.post(`/api/v1/webhooks/${hook.webhook_id}/replay`, { since: "yesterday" })).body.message).toContain("since")
    expect((await admin.post(`/api/v1/webhooks/${hook.webhook_id}/replay`, { since: new Date(Date.now() + 60_000).toISOString() })).body).toEqual({ replayed: 0 })
    const audit = await server.sql<{ action: string }>("SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id", [hook.webhook_id])
    expect(audit.map((a) => a.action)).toEqual(["webhook.created", "webhook.redelivered", "webhook.replayed", "webhook.replayed"])
  })

  it("signs with the old and the new secret for 24 hours after a rotation", async () => {
    const r = await receiver()
    const hook = await create({ url: r.url, events: ["webhook.test"] })
    const old = hook.secret as string
    const fresh = "whsec_" + crypto.randomBytes(24).toString("base64")
    const rotated = await admin.put(`/api/v1/webhooks/${hook.webhook_id}`, { secret: fresh })
    expect(rotated.status, rotated.text).toBe(200)
    expect(rotated.text).not.toContain(fresh)
    const expires = Date.parse(rotated.body.previous_secret_expires_at)
    expect(expires - Date.now()).toBeGreaterThan(23.9 * 3600_000)
    expect(expires - Date.now()).toBeLessThanOrEqual(24 * 3600_000)
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    const got = await until("a message after the rotation", () => r.received[0])
    const headers = got.headers as Record<string, string>
    expect(headers["webhook-signature"]!.split(" ")).toHaveLength(2)
    expect(new StandardWebhook(fresh).verify(got.body, headers)).toEqual(got.json)
    expect(new StandardWebhook(old).verify(got.body, headers)).toEqual(got.json)
    const header = headers["x-webhook-signature"]!
    expect(header.split(" ")).toHaveLength(2)
    expect(plainHmacOk(got.body, header, fresh) && plainHmacOk(got.body, header, old)).toBe(true)
    expect(pythonVerifies(got.body, header, old) && pythonVerifies(got.body, header, fresh)).toBe(true)
    const audit = await server.sql<{ action: string; details: string }>("SELECT action, details::text AS details FROM audit_log WHERE target_id = $1 ORDER BY id", [hook.webhook_id])
    expect(audit.map((a) => a.action)).toEqual(["webhook.created", "webhook.updated", "webhook.tested"])
    expect(JSON.parse(audit[1]!.details)).toEqual({ secret_rotated: true })
    for (const row of audit) {
      expect(row.details).not.toContain(fresh.slice(6))
      expect(row.details).not.toContain(old.slice(6))
    }
  })

  it("deletes a webhook with its history", async () => {
    const hook = await create({ url: "http://127.0.0.1:9/gone", events: ["webhook.test"] })
    await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
    expect((await admin.delete(`/api/v1/webhooks/${hook.webhook_id}`)).status).toBe(204)
    const audit = await server.sql<{ action: string }>("SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id", [hook.webhook_id])
    expect(audit.map((a) => a.action)).toEqual(["webhook.created", "webhook.tested", "webhook.deleted"])
    expect((await admin.get(`/api/v1/webhooks/${hook.webhook_id}/deliveries`)).status).toBe(404)
    const left = await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM extension_webhook_deliveries WHERE webhook_id = $1", [hook.webhook_id])
    expect(left[0]!.n).toBe(0)
  })
})
