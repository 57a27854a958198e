/** @itl-attestation/webhooks — the `webhooks` extension: signed, durable, retried HTTP delivery of platform events. */
import { defineExtension, serveApi } from "@itl-attestation/core"
import { Layer } from "effect"
import { DeliveryWake } from "./DeliveryWake.js"
import { DeliveryWorker } from "./DeliveryWorker.js"
import { webhooksEvents } from "./events.js"
import { migrations } from "./migrations.js"
import { webhooksScopes } from "./scopes.js"
import { WebhookSettings } from "./WebhookConfig.js"
import { Webhooks } from "./Webhooks.js"
import { WebhooksApi } from "./WebhooksApi.js"
import { WebhooksHttp } from "./WebhooksHttp.js"

export const webhooks = defineExtension({
  name: "webhooks",
  version: "1.0.0",
  description: "HTTP webhook delivery for attestation events",
  core: "^2.0.0",
  migrations,
  scopes: webhooksScopes,
  events: webhooksEvents,
  layer: Layer.mergeAll(Webhooks.Default, DeliveryWorker).pipe(Layer.provide(Layer.merge(DeliveryWake.Default, WebhookSettings.Default))),
  apis: [serveApi(WebhooksApi, WebhooksHttp)]
})

export default webhooks
export { WebhooksApi } from "./WebhooksApi.js"
export * from "./Webhook.js"
export { webhooksScopes, WebhooksRead, WebhooksWrite } from "./scopes.js"
export { webhooksEvents } from "./events.js"
export { refusalOf, resolveChecked, checkTarget } from "./targets.js"
export { post } from "./send.js"
