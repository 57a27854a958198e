/** Rows of the two tables and their API views; the secret columns never leave this package's services. */
import { Delivery, Webhook } from "./Webhook.js"

export interface WebhookRow {
  readonly webhook_id: string
  readonly url: string
  readonly events: string
  readonly secret: Buffer
  readonly secret_nonce: Buffer
  readonly secret_tag: Buffer
  readonly secret_key_id: string
  readonly previous_secret: Buffer | null
  readonly previous_secret_nonce: Buffer | null
  readonly previous_secret_tag: Buffer | null
  readonly previous_secret_key_id: string | null
  readonly previous_secret_expires_at: Date | null
  readonly enabled: boolean
  readonly disabled_reason: string | null
  readonly created_by: string
  readonly created_at: Date
  readonly updated_at: Date
  readonly last_triggered_at: Date | null
  readonly trigger_count: number
  readonly failure_count: number
  readonly consecutive_failures: number
}

export interface DeliveryRow {
  readonly delivery_id: string
  readonly webhook_id: string
  readonly message_id: string
  readonly event_seq: string | null
  readonly event_type: string
  readonly payload: string
  readonly trigger: "event" | "test" | "redeliver" | "replay"
  readonly attempt: number
  readonly state: Delivery["state"]
  readonly next_attempt_at: Date
  readonly response_status: number | null
  readonly response_body: string | null
  readonly error: string | null
  readonly delivered_at: Date | null
  readonly duration_ms: number | null
  readonly created_at: Date
}

/** The AAD binds a secret to its webhook and its slot, so a ciphertext copied elsewhere does not open. */
export const secretAad = (webhookId: string, slot: "secret" | "previous_secret") => `extension_webhooks:${webhookId}:${slot}`

const iso = (d: Date | null) => (d === null ? null : d.toISOString())

export const toWebhook = (row: WebhookRow) =>
  new Webhook({
    webhook_id: row.webhook_id,
    url: row.url,
    events: row.events.split(","),
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    last_triggered_at: iso(row.last_triggered_at),
    trigger_count: row.trigger_count,
    failure_count: row.failure_count,
    consecutive_failures: row.consecutive_failures,
    previous_secret_expires_at:
      row.previous_secret_expires_at !== null && row.previous_secret_expires_at.getTime() > Date.now() ? row.previous_secret_expires_at.toISOString() : null
  })

export const toDelivery = (row: DeliveryRow) =>
  new Delivery({
    delivery_id: row.delivery_id,
    webhook_id: row.webhook_id,
    message_id: row.message_id,
    event_type: row.event_type,
    event_seq: row.event_seq === null ? null : Number(row.event_seq),
    trigger: row.trigger,
    attempt: row.attempt,
    state: row.state,
    payload: row.payload,
    next_attempt_at: row.next_attempt_at.toISOString(),
    response_status: row.response_status,
    response_body: row.response_body,
    error: row.error,
    delivered_at: iso(row.delivered_at),
    duration_ms: row.duration_ms,
    created_at: row.created_at.toISOString()
  })

/** The body every message carries: `{event_type, timestamp, machine_id, data}`. */
export const messageBody = (eventType: string, timestamp: string, machineId: string | null, data: Record<string, unknown>) =>
  JSON.stringify({ event_type: eventType, timestamp, machine_id: machineId, data })
