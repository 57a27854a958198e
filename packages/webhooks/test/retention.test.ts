/** ITL_WEBHOOK_HISTORY_RETENTION: finished attempts leave the history once older than it; a queued retry stays. */
import { webhooks } from "@itl-attestation/webhooks"
import { afterAll, beforeAll, expect, it } from "vitest"
import { api, startServer, type TestServer } from "../../../test-support/server.js"
import { type Receiver, startReceiver, until } from "./receiver.js"

let server: TestServer
let receiver: Receiver

beforeAll(async () => {
  receiver = await startReceiver()
  receiver.reply = () => ({ status: 500 })
  server = await startServer({
    extensions: [webhooks],
    env: { ITL_WEBHOOK_ALLOW_PRIVATE: "true", ITL_WEBHOOK_HISTORY_RETENTION: "1s", ITL_WEBHOOK_RETRY_SCHEDULE: "10m" }
  })
})
afterAll(async () => {
  await server?.stop()
  await receiver?.close()
})

it("prunes finished attempts older than the retention and keeps the queued retry", async () => {
  const admin = api(server, server.adminToken)
  const hook = (await admin.post("/api/v1/webhooks", { url: receiver.url, events: ["webhook.test"] })).body
  await admin.post(`/api/v1/webhooks/${hook.webhook_id}/test`)
  const history = async () => (await admin.get(`/api/v1/webhooks/${hook.webhook_id}/deliveries`)).body.deliveries as Array<any>
  await until("the failed first attempt and the queued retry", async () => (await history()).length === 2)
  const left = await until("the failed attempt pruned", async () => {
    const h = await history()
    return h.length === 1 ? h : undefined
  })
  expect(left[0]).toMatchObject({ attempt: 2, state: "pending" })
  // The counters are the webhook's, not the history's.
  expect((await admin.get(`/api/v1/webhooks/${hook.webhook_id}`)).body).toMatchObject({ trigger_count: 1, failure_count: 1 })
})
