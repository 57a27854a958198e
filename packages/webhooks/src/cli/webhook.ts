/**
 * `attestation webhook …`: the webhooks extension's endpoints from the CLI.
 * A secret is a credential option (never echoed); a generated one is printed
 * once, by `webhook add`.
 */
import { apiCaller, arg, cell, column, command, details, given, group, limit, offset, option, pageFooter, render, table, time, uuid } from "@itl-attestation/cli/sdk"
import { Effect } from "effect"
import type { Delivery, DeliveryList, Webhook, WebhookList } from "../Webhook.js"
import { WebhooksApi } from "../WebhooksApi.js"

const callWebhooks = apiCaller(WebhooksApi)

const WEBHOOK = "5b8e2f1a-3c4d-4e5f-9a6b-7c8d9e0f1a2b"
const DELIVERY = "9d3c7a1e-2f4b-4c5d-8e6f-0a1b2c3d4e5f"

const idArg = arg.text("id", { description: "Webhook id (UUID), from `webhook list`", validate: uuid })

const EVENT = /^(\*|[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9_]{0,62})$/
const eventsHelp = {
  description: "Comma-separated event types (GET /api/v1/events/types lists them), or * for all",
  placeholder: "TYPES",
  validate: (item: string) => (EVENT.test(item) ? undefined : "expected * or an event type such as machine.approved")
}
const urlHelp = { description: "The endpoint (http or https) that receives the POSTs", placeholder: "URL" }
const secretOption = (description: string) => option.text("secret", { description, placeholder: "SECRET", secret: true })
const enabledOption = option.choice("enabled", ["true", "false"] as const, { description: "Deliver to this webhook (true) or stop (false)" })

const webhookDetails = (w: Webhook & { secret?: string | undefined }) =>
  details([
    ["webhook_id", w.webhook_id],
    ["url", w.url],
    ["events", w.events.join(",")],
    ["enabled", cell(w.enabled)],
    ["disabled_reason", cell(w.disabled_reason)],
    ["created_by", w.created_by],
    ["created_at", time(w.created_at)],
    ["last_triggered_at", time(w.last_triggered_at)],
    ["trigger_count", cell(w.trigger_count)],
    ["failure_count", cell(w.failure_count)],
    ["consecutive_failures", cell(w.consecutive_failures)],
    ["previous_secret_expires_at", time(w.previous_secret_expires_at)],
    ...(w.secret === undefined ? [] : ([["secret", `${w.secret}  (shown once: keep it now)`]] as Array<[string, string]>))
  ])

const webhookColumns = [
  column<Webhook>("webhook_id", (w) => w.webhook_id),
  column<Webhook>("url", (w) => w.url),
  column<Webhook>("events", (w) => w.events.join(",")),
  column<Webhook>("enabled", (w) => cell(w.enabled)),
  column<Webhook>("last_triggered_at", (w) => time(w.last_triggered_at)),
  column<Webhook>("trigger_count", (w) => cell(w.trigger_count)),
  column<Webhook>("failure_count", (w) => cell(w.failure_count))
]

const deliveryColumns = [
  column<Delivery>("delivery_id", (d) => d.delivery_id),
  column<Delivery>("event_type", (d) => d.event_type),
  column<Delivery>("trigger", (d) => d.trigger),
  column<Delivery>("attempt", (d) => cell(d.attempt)),
  column<Delivery>("state", (d) => d.state),
  column<Delivery>("status", (d) => cell(d.response_status)),
  column<Delivery>("delivered_at", (d) => time(d.delivered_at)),
  column<Delivery>("duration_ms", (d) => cell(d.duration_ms)),
  column<Delivery>("error", (d) => cell(d.error))
]

const deliveryDetails = (d: Delivery) =>
  details([
    ["delivery_id", d.delivery_id],
    ["webhook_id", d.webhook_id],
    ["message_id", d.message_id],
    ["event_type", d.event_type],
    ["trigger", d.trigger],
    ["attempt", cell(d.attempt)],
    ["state", d.state],
    ["next_attempt_at", time(d.next_attempt_at)]
  ])

const add = command({
  name: "add",
  summary: "Register a webhook (prints a generated secret once when --secret is not given)",
  description: "Here --url is the webhook's endpoint; the server's URL comes from ITL_URL or the profile.",
  examples: [
    {
      command: "attestation webhook add --url https://hooks.example.com/attestation --events machine.approved,machine.revoked --secret \"$WEBHOOK_SECRET\"",
      description: "Approvals and revocations, signed with your secret"
    },
    { command: "attestation webhook add --url https://hooks.example.com/all --events '*'", description: "Every event; the platform generates the secret" }
  ],
  options: {
    url: option.text("url", { ...urlHelp, required: true }),
    events: option.list("events", { ...eventsHelp, required: true }),
    secret: secretOption("Signing secret: whsec_<base64> or 16 to 256 printable characters (default: a generated whsec_ secret, printed once)"),
    enabled: enabledOption
  },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const created = yield* callWebhooks(globals, (api) =>
        api.webhooks.create({
          payload: {
            url: options.url,
            events: options.events,
            ...given("secret", options.secret),
            ...given("enabled", options.enabled === undefined ? undefined : options.enabled === "true")
          }
        })
      )
      yield* render(globals.output, created, webhookDetails)
    })
})

const list = command({
  name: "list",
  summary: "List the webhooks",
  examples: [{ command: "attestation webhook list", description: "Every webhook with its counters" }],
  options: { limit, offset },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const webhooks = yield* callWebhooks(globals, (api) => api.webhooks.list({ urlParams: { limit: options.limit, offset: options.offset } }))
      yield* render(
        globals.output,
        webhooks,
        (l: WebhookList) => `${table(webhookColumns, l.webhooks)}\n${pageFooter(l.webhooks.length, l.total, l.offset, "webhook")}`,
        (l) => l.webhooks.map((w) => w.webhook_id)
      )
    })
})

const get = command({
  name: "get",
  summary: "Show one webhook",
  examples: [{ command: `attestation webhook get ${WEBHOOK}`, description: "Its URL, events, state and counters" }],
  args: { id: idArg },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      const webhook = yield* callWebhooks(globals, (api) => api.webhooks.get({ path: { id: args.id } }))
      yield* render(globals.output, webhook, webhookDetails)
    })
})

const update = command({
  name: "update",
  summary: "Change a webhook's URL, events, secret or enabled state",
  description:
    "A new --secret replaces the old one, which keeps signing (a second signature) for 24 hours. Here --url is the " +
    "webhook's endpoint; the server's URL comes from ITL_URL or the profile.",
  examples: [
    { command: `attestation webhook update ${WEBHOOK} --enabled false`, description: "Stop delivering to it" },
    { command: `attestation webhook update ${WEBHOOK} --secret "$NEW_SECRET"`, description: "Rotate its secret" }
  ],
  args: { id: idArg },
  options: {
    url: option.text("url", urlHelp),
    events: option.list("events", eventsHelp),
    secret: secretOption("A new signing secret (the old one also signs for 24 hours)"),
    enabled: enabledOption
  },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const updated = yield* callWebhooks(globals, (api) =>
        api.webhooks.update({
          path: { id: args.id },
          payload: {
            ...given("url", options.url),
            ...given("events", options.events),
            ...given("secret", options.secret),
            ...given("enabled", options.enabled === undefined ? undefined : options.enabled === "true")
          }
        })
      )
      yield* render(globals.output, updated, webhookDetails)
    })
})

const remove = command({
  name: "delete",
  summary: "Delete a webhook and its delivery history",
  examples: [{ command: `attestation webhook delete ${WEBHOOK}`, description: "Delete by the id `webhook list` shows" }],
  args: { id: idArg },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      yield* callWebhooks(globals, (api) => api.webhooks.delete({ path: { id: args.id } }))
      yield* render(globals.output, { id: args.id, deleted: true }, () => `deleted webhook ${args.id}`)
    })
})

const deliveries = command({
  name: "deliveries",
  summary: "A webhook's delivery history, newest first: one line per attempt",
  examples: [{ command: `attestation webhook deliveries ${WEBHOOK} --limit 50`, description: "The last 50 attempts" }],
  args: { id: idArg },
  options: { limit, offset },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const history = yield* callWebhooks(globals, (api) =>
        api.webhooks.deliveries({ path: { id: args.id }, urlParams: { limit: options.limit, offset: options.offset } })
      )
      yield* render(
        globals.output,
        history,
        (l: DeliveryList) => `${table(deliveryColumns, l.deliveries)}\n${pageFooter(l.deliveries.length, l.total, l.offset, "delivery")}`,
        (l) => l.deliveries.map((d) => d.delivery_id)
      )
    })
})

const test = command({
  name: "test",
  summary: "Send a webhook.test message to one webhook (its outcome shows in `webhook deliveries`)",
  examples: [{ command: `attestation webhook test ${WEBHOOK}`, description: "Check the endpoint and its signature check" }],
  args: { id: idArg },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      const queued = yield* callWebhooks(globals, (api) => api.webhooks.test({ path: { id: args.id } }))
      yield* render(globals.output, queued, deliveryDetails)
    })
})

const redeliver = command({
  name: "redeliver",
  summary: "Send one message again (same webhook-id and body) as a new first attempt",
  examples: [{ command: `attestation webhook redeliver ${WEBHOOK} ${DELIVERY}`, description: "Resend the message of that delivery" }],
  args: { id: idArg, deliveryId: arg.text("delivery_id", { description: "Delivery id (UUID), from `webhook deliveries`", validate: uuid }) },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      const queued = yield* callWebhooks(globals, (api) => api.webhooks.redeliver({ path: { id: args.id, delivery_id: args.deliveryId } }))
      yield* render(globals.output, queued, deliveryDetails)
    })
})

const replay = command({
  name: "replay",
  summary: "Send again every message of a webhook since a time",
  examples: [{ command: `attestation webhook replay ${WEBHOOK} --since 2026-01-31T00:00:00Z`, description: "Everything since midnight UTC" }],
  args: { id: idArg },
  options: {
    since: option.text("since", {
      description: "ISO 8601 time: messages created at or after it are sent again",
      placeholder: "TIME",
      required: true,
      validate: (v) => (/^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v)) ? undefined : "expected an ISO 8601 time such as 2026-01-31T12:00:00Z")
    })
  },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const result = yield* callWebhooks(globals, (api) => api.webhooks.replay({ path: { id: args.id }, payload: { since: options.since } }))
      yield* render(globals.output, result, (r) => `queued ${r.replayed} message${r.replayed === 1 ? "" : "s"} again`, () => [])
    })
})

export const webhookCommand = group({
  name: "webhook",
  summary: "Webhooks: signed HTTP delivery of platform events (webhooks extension)",
  commands: [add, list, get, update, remove, deliveries, test, redeliver, replay],
  examples: [{ command: "attestation webhook list", description: "Every webhook" }]
})
