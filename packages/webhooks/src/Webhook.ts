/** The webhooks API's schemas. The signing secret appears only in create/update payloads and, once, in a generated secret. */
import { Schema } from "effect"

/** `*` or a `namespace.name` event type; whether the type exists is checked against the catalog by the service. */
export const EventPattern = Schema.String.pipe(
  Schema.pattern(/^(\*|[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9_]{0,62})$/, {
    message: () => "each must be * or an event type such as machine.approved"
  })
)

export const Events = Schema.Array(EventPattern).pipe(
  Schema.minItems(1, { message: () => "must not be empty: name event types, or * for all" }),
  Schema.maxItems(200, { message: () => "must hold at most 200 event types" })
)

/** Checked further (scheme, credentials, address) by the service, which needs the configuration. */
export const WebhookUrl = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(2048, { message: () => "must be at most 2048 characters" })
)

const WHSEC = /^whsec_([A-Za-z0-9+/]+={0,2})$/

/** The bytes of a `whsec_` secret's key, or undefined when `secret` is not one with 24 to 64 bytes. */
export const whsecKey = (secret: string): Buffer | undefined => {
  const match = WHSEC.exec(secret)
  if (match === null) return undefined
  const key = Buffer.from(match[1]!, "base64")
  return key.length >= 24 && key.length <= 64 && key.toString("base64").replace(/=+$/, "") === match[1]!.replace(/=+$/, "") ? key : undefined
}

/** A caller's secret: `whsec_` + base64 of 24 to 64 bytes (Standard Webhooks), or 16 to 256 printable ASCII characters. */
export const WebhookSecret = Schema.String.pipe(
  Schema.filter(
    (s) =>
      s.startsWith("whsec_")
        ? whsecKey(s) !== undefined || "must be whsec_ followed by the base64 of 24 to 64 bytes"
        : (s.length >= 16 && s.length <= 256 && /^[\x21-\x7e]+$/.test(s)) || "must be 16 to 256 printable ASCII characters without spaces, or a whsec_ value"
  )
)

export class CreateWebhook extends Schema.Class<CreateWebhook>("CreateWebhook")({
  url: WebhookUrl,
  events: Events,
  /** Without it a `whsec_` secret is generated and returned once. */
  secret: Schema.optional(WebhookSecret),
  enabled: Schema.optional(Schema.Boolean)
}) {}

export class UpdateWebhook extends Schema.Class<UpdateWebhook>("UpdateWebhook")({
  url: Schema.optional(WebhookUrl),
  events: Schema.optional(Events),
  /** A new secret: the old one keeps signing (a second signature) for 24 hours. */
  secret: Schema.optional(WebhookSecret),
  enabled: Schema.optional(Schema.Boolean)
}) {}

export class Webhook extends Schema.Class<Webhook>("Webhook")({
  webhook_id: Schema.UUID,
  url: Schema.String,
  events: Schema.Array(Schema.String),
  enabled: Schema.Boolean,
  /** Why the platform disabled it (410 Gone, consecutive failures); null when enabled or disabled by an operator. */
  disabled_reason: Schema.NullOr(Schema.String),
  created_by: Schema.String,
  created_at: Schema.String,
  updated_at: Schema.String,
  last_triggered_at: Schema.NullOr(Schema.String),
  /** Attempts made. */
  trigger_count: Schema.Number,
  /** Attempts that failed. */
  failure_count: Schema.Number,
  /** Messages in a row that failed every attempt (reset by a success). */
  consecutive_failures: Schema.Number,
  /** Until then the previous secret also signs each message. */
  previous_secret_expires_at: Schema.NullOr(Schema.String)
}) {}

/** The answer to a create: with `secret` only when the platform generated it (shown this once). */
export class CreatedWebhook extends Schema.Class<CreatedWebhook>("CreatedWebhook")({
  ...Webhook.fields,
  secret: Schema.optional(Schema.String)
}) {}

export class WebhookList extends Schema.Class<WebhookList>("WebhookList")({
  webhooks: Schema.Array(Webhook),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export const DeliveryState = Schema.Literal("pending", "in_flight", "succeeded", "failed", "cancelled", "skipped")

export class Delivery extends Schema.Class<Delivery>("Delivery")({
  delivery_id: Schema.UUID,
  webhook_id: Schema.UUID,
  /** The `webhook-id` header: the same for every attempt, redelivery and replay of one message. */
  message_id: Schema.String,
  event_type: Schema.String,
  /** The outbox position of the event; null for test messages. */
  event_seq: Schema.NullOr(Schema.Number),
  trigger: Schema.Literal("event", "test", "redeliver", "replay"),
  attempt: Schema.Number,
  state: DeliveryState,
  /** The exact body sent (JSON text). */
  payload: Schema.String,
  next_attempt_at: Schema.String,
  response_status: Schema.NullOr(Schema.Number),
  /** At most 4 KiB. */
  response_body: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  delivered_at: Schema.NullOr(Schema.String),
  duration_ms: Schema.NullOr(Schema.Number),
  created_at: Schema.String
}) {}

export class DeliveryList extends Schema.Class<DeliveryList>("DeliveryList")({
  deliveries: Schema.Array(Delivery),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export class ReplayRequest extends Schema.Class<ReplayRequest>("ReplayRequest")({
  /** ISO 8601: every message of this webhook created at or after it is sent again. */
  since: Schema.String.pipe(
    Schema.filter((s) => (/^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s))) || "must be an ISO 8601 time such as 2026-01-31T12:00:00Z")
  )
}) {}

export class ReplayResult extends Schema.Class<ReplayResult>("ReplayResult")({
  /** Messages queued again. */
  replayed: Schema.Number
}) {}
