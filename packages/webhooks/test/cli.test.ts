/**
 * The built `attestation webhook …` commands against a live server: the
 * commands the issue names, a generated secret printed once, a caller's secret
 * never echoed, and refusals as one line with the exit code of their class.
 */
import { webhooks } from "@itl-attestation/webhooks"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer } from "../../../test-support/server.js"
import { cli, expectOneLineError, expectUsageError, json, ok } from "../../cli/test/support.js"
import { type Receiver, startReceiver, until } from "./receiver.js"

let server: TestServer
let receiver: Receiver
const asAdmin = (args: ReadonlyArray<string>) => cli(args, { ITL_URL: server.url, ITL_TOKEN: server.adminToken })

beforeAll(async () => {
  server = await startServer({ extensions: [webhooks], env: { ITL_WEBHOOK_ALLOW_PRIVATE: "true", ITL_WEBHOOK_RETRY_SCHEDULE: "100ms" } })
  receiver = await startReceiver()
})
afterAll(async () => {
  await receiver?.close()
  await server?.stop()
})

describe("attestation webhook", () => {
  it("adds, lists, gets, tests, shows deliveries, redelivers, replays, updates and deletes", async () => {
    const secret = "cli-secret-" + crypto.randomBytes(8).toString("hex")
    const added = await asAdmin(["-o", "json", "webhook", "add", "--url", receiver.url, "--events", "machine.approved,machine.revoked,webhook.test", "--secret", secret])
    expect(added.stdout).not.toContain(secret)
    const hook = json(added)
    expect(hook).toMatchObject({ url: receiver.url, events: ["machine.approved", "machine.revoked", "webhook.test"], enabled: true })
    expect(hook.secret).toBeUndefined()
    const id = hook.webhook_id as string

    const generated = json(await asAdmin(["-o", "json", "webhook", "add", "--url", receiver.url + "/2", "--events", "*"]))
    expect(generated.secret).toMatch(/^whsec_/)
    const table = ok(await asAdmin(["webhook", "get", generated.webhook_id]))
    expect(table).not.toContain(generated.secret)

    const listed = json(await asAdmin(["-o", "json", "webhook", "list"]))
    expect(listed.total).toBe(2)
    expect(ok(await asAdmin(["-o", "id", "webhook", "list"])).trim().split("\n").sort()).toEqual([id, generated.webhook_id].sort())
    expect(json(await asAdmin(["-o", "json", "webhook", "get", id])).webhook_id).toBe(id)

    const queued = json(await asAdmin(["-o", "json", "webhook", "test", id]))
    expect(queued).toMatchObject({ event_type: "webhook.test", trigger: "test", state: "pending" })
    await until("the test message", () => receiver.received.find((m) => m.headers["webhook-id"] === queued.message_id))
    const history = await until("the delivery recorded", async () => {
      const h = json(await asAdmin(["-o", "json", "webhook", "deliveries", id, "--limit", "50"]))
      return h.deliveries.length === 1 && h.deliveries[0].state === "succeeded" ? h : undefined
    })
    expect(history.deliveries[0]).toMatchObject({ response_status: 200, message_id: queued.message_id })
    expect(ok(await asAdmin(["webhook", "deliveries", id]))).toMatch(/webhook\.test/)

    const again = json(await asAdmin(["-o", "json", "webhook", "redeliver", id, history.deliveries[0].delivery_id]))
    expect(again).toMatchObject({ message_id: queued.message_id, trigger: "redeliver" })
    const replayed = json(await asAdmin(["-o", "json", "webhook", "replay", id, "--since", new Date(Date.now() - 3600_000).toISOString()]))
    expect(replayed).toEqual({ replayed: 1 })

    const off = json(await asAdmin(["-o", "json", "webhook", "update", id, "--enabled", "false"]))
    expect(off.enabled).toBe(false)
    const changed = json(await asAdmin(["-o", "json", "webhook", "update", id, "--enabled", "true", "--events", "machine.locked", "--url", receiver.url + "/new"]))
    expect(changed).toMatchObject({ enabled: true, events: ["machine.locked"], url: receiver.url + "/new" })
    const rotated = await asAdmin(["-o", "json", "webhook", "update", id, "--secret", "rotated-secret-0123456789"])
    expect(rotated.stdout).not.toContain("rotated-secret-0123456789")
    expect(json(rotated).previous_secret_expires_at).toEqual(expect.any(String))

    expect(json(await asAdmin(["-o", "json", "webhook", "delete", id]))).toEqual({ id, deleted: true })
    expectOneLineError(await asAdmin(["webhook", "get", id]), 3, /not found/)
  })

  it("refuses bad input in one line: the server's 400 naming the field, or a usage error", async () => {
    expectOneLineError(await asAdmin(["webhook", "add", "--url", receiver.url, "--events", "machine.exploded"]), 1, /events.*HTTP 400/)
    expectOneLineError(await asAdmin(["webhook", "add", "--url", "ftp://example.com/", "--events", "*"]), 1, /url.*HTTP 400/)
    expectUsageError(await asAdmin(["webhook", "add", "--url", receiver.url, "--events", "Not An Event"]), "attestation webhook add", /--events/)
    expectUsageError(await asAdmin(["webhook", "get", "not-a-uuid"]), "attestation webhook get", /id/)
    expectUsageError(await asAdmin(["webhook", "update", crypto.randomUUID(), "--enabled", "maybe"]), "attestation webhook update", /--enabled/)
    expectUsageError(await asAdmin(["webhook", "replay", crypto.randomUUID(), "--since", "yesterday"]), "attestation webhook replay", /--since/)
  })
})
