/**
 * Delivery survives what real processes do: `kill -9` of the host while an
 * endpoint holds the request (the attempt is made again after the restart,
 * same webhook-id), and two hosts on one PostgreSQL database sending each
 * attempt once. Both run the built `attestation serve`, which finds the
 * webhooks package installed beside the CLI as an operator's would.
 */
import * as crypto from "node:crypto"
import { afterAll, describe, expect, it } from "vitest"
import { freshDatabase } from "../../../test-support/database.js"
import { fakeEkPem } from "../../../test-support/server.js"
import { killAll, spawnServe } from "../../host-node/test/spawned.js"
import { startReceiver, until } from "./receiver.js"

afterAll(() => killAll())

const adminToken = `test-admin-${crypto.randomBytes(16).toString("hex")}`
const settings = {
  ITL_ADMIN_TOKEN: adminToken,
  ITL_LOG_LEVEL: "warning",
  ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex"),
  ITL_WEBHOOK_ALLOW_PRIVATE: "true",
  ITL_WEBHOOK_TIMEOUT: "2s",
  ITL_WEBHOOK_RETRY_SCHEDULE: "100ms,200ms"
}

const call = async (base: string, method: string, path: string, body?: unknown, token: string | undefined = adminToken) => {
  const response = await fetch(base + path, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, text, body: text === "" ? undefined : JSON.parse(text) }
}

describe("durability", () => {
  it("makes the attempt again after kill -9 of the host mid-delivery; nothing is lost", async () => {
    const database = await freshDatabase()
    const receiver = await startReceiver()
    try {
      receiver.reply = (_m, i) => (i === 0 ? "hang" : { status: 200 })
      const env = { ...database.env, ...settings }
      const first = await spawnServe(env)
      await first.waitFor(/listening on/, 90_000)
      const created = await call(first.url, "POST", "/api/v1/webhooks", { url: receiver.url, events: ["machine.registered"] })
      expect(created.status, created.text).toBe(201)
      const secret = created.body.secret as string
      expect((await call(first.url, "POST", "/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "crash-1" }, undefined)).status).toBe(201)
      await until("the endpoint to hold the request", () => receiver.hanging() === 1, 30_000)
      first.child.kill("SIGKILL")
      await first.exit()
      expect(receiver.received).toHaveLength(1)

      const second = await spawnServe(env)
      await second.waitFor(/listening on/, 90_000)
      // The dead instance's claim runs out (timeout + 5 s) and the same attempt is made again.
      await until("the delivery after the restart", () => receiver.received.length === 2, 45_000)
      expect(receiver.received[1]!.headers["webhook-id"]).toBe(receiver.received[0]!.headers["webhook-id"])
      expect(receiver.received[1]!.json).toMatchObject({ event_type: "machine.registered", data: { hostname: "crash-1" } })
      const history = await until("the attempt recorded", async () => {
        const h = (await call(second.url, "GET", `/api/v1/webhooks/${created.body.webhook_id}/deliveries`)).body.deliveries
        return h.length === 1 && h[0].state === "succeeded" ? h : undefined
      })
      expect(history[0]).toMatchObject({ attempt: 1, response_status: 200 })
      // The secret never reached the logs.
      for (const server of [first, second]) {
        const { stdout, stderr } = server.output()
        expect(stdout + stderr).not.toContain(secret.slice(6))
      }
      second.child.kill("SIGTERM")
      await second.exit()
    } finally {
      await receiver.close()
      await database.cleanup()
    }
  }, 180_000)

  // PGlite serves one process per data directory: two hosts need PostgreSQL.
  it.skipIf(process.env.TEST_DATABASE_URL === undefined || process.env.TEST_DATABASE_URL === "")(
    "two hosts on one PostgreSQL database send each attempt once",
    async () => {
      const database = await freshDatabase()
      const receiver = await startReceiver()
      try {
        // Every message fails its first attempt: each must arrive exactly twice.
        const seen = new Map<string, number>()
        receiver.reply = (m) => {
          const id = m.headers["webhook-id"] as string
          seen.set(id, (seen.get(id) ?? 0) + 1)
          return { status: seen.get(id) === 1 ? 500 : 200 }
        }
        const env = { ...database.env, ...settings }
        const a = await spawnServe(env)
        await a.waitFor(/listening on/, 90_000)
        const b = await spawnServe(env)
        await b.waitFor(/listening on/, 90_000)
        const hooks = []
        for (let i = 0; i < 3; i++) {
          const created = await call(a.url, "POST", "/api/v1/webhooks", { url: `${receiver.url}/${i}`, events: ["machine.registered"] })
          expect(created.status, created.text).toBe(201)
          hooks.push(created.body.webhook_id as string)
        }
        const machines = 15
        await Promise.all(
          Array.from({ length: machines }, (_, i) =>
            call(i % 2 === 0 ? a.url : b.url, "POST", "/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: `pair-${i}` }, undefined)
          )
        )
        const messages = machines * hooks.length
        await until("every message delivered", () => receiver.received.length >= messages * 2 && [...seen.values()].every((n) => n >= 2), 90_000)
        // Let any duplicate that was going to happen happen, then count.
        for (const id of hooks) {
          await until("history settled", async () => {
            const h = (await call(b.url, "GET", `/api/v1/webhooks/${id}/deliveries?limit=500`)).body.deliveries
            return h.length === machines * 2 && h.every((d: any) => d.state === "succeeded" || d.state === "failed")
          })
        }
        expect(seen.size).toBe(messages)
        expect([...seen.values()].every((n) => n === 2)).toBe(true)
        expect(receiver.received).toHaveLength(messages * 2)
        for (const id of hooks) {
          const hook = (await call(a.url, "GET", `/api/v1/webhooks/${id}`)).body
          expect(hook).toMatchObject({ trigger_count: machines * 2, failure_count: machines })
        }
        a.child.kill("SIGTERM")
        b.child.kill("SIGTERM")
        await Promise.all([a.exit(), b.exit()])
      } finally {
        await receiver.close()
        await database.cleanup()
      }
    },
    180_000
  )
})

describe("graceful shutdown", () => {
  it("gives back the claim of an attempt in flight, so the next start makes it at once", async () => {
    const { startServer } = await import("../../../test-support/server.js")
    const { webhooks } = await import("@itl-attestation/webhooks")
    const database = await freshDatabase()
    const receiver = await startReceiver()
    try {
      receiver.reply = () => "hang"
      const env = { ITL_WEBHOOK_ALLOW_PRIVATE: "true", ITL_WEBHOOK_TIMEOUT: "30s" }
      const server = await startServer({ extensions: [webhooks], database, env })
      const created = await fetch(`${server.url}/api/v1/webhooks`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ url: receiver.url, events: ["webhook.test"] })
      }).then((r) => r.json())
      await fetch(`${server.url}/api/v1/webhooks/${created.webhook_id}/test`, { method: "POST", headers: { authorization: `Bearer ${server.adminToken}` } })
      await until("the endpoint to hold the request", () => receiver.hanging() === 1)
      await server.stop()
      // Looked at without the extension, so no worker claims it again first.
      const look = await startServer({ extensions: [], database })
      try {
        const rows = await look.sql<{ state: string; claimed_by: string | null }>("SELECT state, claimed_by FROM extension_webhook_deliveries")
        expect(rows).toEqual([{ state: "pending", claimed_by: null }])
      } finally {
        await look.stop()
      }
    } finally {
      await receiver.close()
      await database.cleanup()
    }
  }, 120_000)
})
