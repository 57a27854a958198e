/**
 * The event types this extension owns. `webhook.test` is the type of the
 * message `POST /api/v1/webhooks/{id}/test` sends to one webhook (it is not
 * appended to the outbox, so no other webhook receives it); `webhook.disabled`
 * is appended when the platform turns a webhook off. Neither holds the URL or
 * the secret.
 */
import { defineEvent, type EventDefinition } from "@itl-attestation/core"
import { Schema } from "effect"

export const webhooksEvents: ReadonlyArray<EventDefinition> = [
  defineEvent({
    type: "webhook.test",
    description: "A test message an operator sent to one webhook (`POST /api/v1/webhooks/{id}/test`).",
    payload: Schema.Struct({ webhook_id: Schema.UUID })
  }),
  defineEvent({
    type: "webhook.disabled",
    description: "The platform disabled a webhook: its endpoint answered 410 Gone, or too many consecutive messages failed.",
    payload: Schema.Struct({ webhook_id: Schema.UUID, reason: Schema.String })
  })
]
