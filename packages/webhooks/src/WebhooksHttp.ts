import { groupUsing, pageOf } from "@itl-attestation/core"
import { Effect } from "effect"
import { Webhooks } from "./Webhooks.js"
import { WebhooksApi } from "./WebhooksApi.js"

export const WebhooksHttp = groupUsing(Webhooks)(WebhooksApi, "webhooks", (handlers) =>
  Effect.map(Webhooks, (webhooks) =>
    handlers
      .handle("create", ({ payload }) => webhooks.create(payload))
      .handle("list", ({ urlParams }) => webhooks.list(pageOf(urlParams)))
      .handle("get", ({ path }) => webhooks.get(path.id))
      .handle("update", ({ path, payload }) => webhooks.update(path.id, payload))
      .handle("delete", ({ path }) => webhooks.remove(path.id))
      .handle("deliveries", ({ path, urlParams }) => webhooks.deliveries(path.id, pageOf(urlParams)))
      .handle("test", ({ path }) => webhooks.test(path.id))
      .handle("redeliver", ({ path }) => webhooks.redeliver(path.id, path.delivery_id))
      .handle("replay", ({ path, payload }) => webhooks.replay(path.id, payload.since))
  )
)
