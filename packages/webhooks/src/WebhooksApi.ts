/** The webhooks extension's HTTP API: one HttpApi, so clients (the CLI) derive from it. */
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { BadRequest, Conflict, Forbidden, NotFound, pageParams, requireScope, strictPayloads } from "@itl-attestation/core/api"
import { Schema } from "effect"
import { WebhooksRead, WebhooksWrite } from "./scopes.js"
import { CreatedWebhook, CreateWebhook, Delivery, DeliveryList, ReplayRequest, ReplayResult, UpdateWebhook, Webhook, WebhookList } from "./Webhook.js"

const webhookPath = Schema.Struct({ id: Schema.UUID })

export class WebhooksGroup extends HttpApiGroup.make("webhooks")
  .add(
    HttpApiEndpoint.post("create", "/webhooks")
      .setPayload(CreateWebhook)
      .addSuccess(CreatedWebhook, { status: 201 })
      .addError(BadRequest)
      .middleware(requireScope(WebhooksWrite))
  )
  .add(
    HttpApiEndpoint.get("list", "/webhooks")
      .setUrlParams(pageParams)
      .addSuccess(WebhookList)
      .middleware(requireScope(WebhooksRead))
  )
  .add(
    HttpApiEndpoint.get("get", "/webhooks/:id")
      .setPath(webhookPath)
      .addSuccess(Webhook)
      .addError(NotFound)
      .middleware(requireScope(WebhooksRead))
  )
  .add(
    HttpApiEndpoint.put("update", "/webhooks/:id")
      .setPath(webhookPath)
      .setPayload(UpdateWebhook)
      .addSuccess(Webhook)
      .addError(NotFound)
      .addError(BadRequest)
      .middleware(requireScope(WebhooksWrite))
  )
  .add(
    HttpApiEndpoint.del("delete", "/webhooks/:id")
      .setPath(webhookPath)
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
      .middleware(requireScope(WebhooksWrite))
  )
  .add(
    HttpApiEndpoint.get("deliveries", "/webhooks/:id/deliveries")
      .setPath(webhookPath)
      .setUrlParams(pageParams)
      .addSuccess(DeliveryList)
      .addError(NotFound)
      .middleware(requireScope(WebhooksRead))
  )
  .add(
    HttpApiEndpoint.post("test", "/webhooks/:id/test")
      .setPath(webhookPath)
      .addSuccess(Delivery, { status: 202 })
      .addError(NotFound)
      .addError(Conflict)
      .middleware(requireScope(WebhooksWrite))
  )
  .add(
    HttpApiEndpoint.post("redeliver", "/webhooks/:id/deliveries/:delivery_id/redeliver")
      .setPath(Schema.Struct({ id: Schema.UUID, delivery_id: Schema.UUID }))
      .addSuccess(Delivery, { status: 202 })
      .addError(NotFound)
      .addError(Conflict)
      .middleware(requireScope(WebhooksWrite))
  )
  .add(
    HttpApiEndpoint.post("replay", "/webhooks/:id/replay")
      .setPath(webhookPath)
      .setPayload(ReplayRequest)
      .addSuccess(ReplayResult, { status: 202 })
      .addError(NotFound)
      .addError(Conflict)
      .middleware(requireScope(WebhooksWrite))
  )
  .addError(Forbidden)
  .prefix("/api/v1") {}

/** Unknown body fields are 400, as the OpenAPI document says (`additionalProperties: false`). */
export class WebhooksApi extends strictPayloads(HttpApi.make("webhooks").add(WebhooksGroup)) {}
