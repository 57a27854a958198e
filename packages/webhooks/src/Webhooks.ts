/**
 * The webhooks an operator manages: create, list, change, delete, their
 * delivery history, a test message, redelivery of one message and a replay of
 * every message since a time. Each change is an audited change; no audit row,
 * event or answer holds a secret (create answers a generated one, once).
 */
import { SqlClient } from "@effect/sql"
import { actorOf, authorized, AuditedChanges, BadRequest, Conflict, EventBus, Keyring, MasterKeyRewrap, NotFound, sqlDefect, traced } from "@itl-attestation/core"
import type { Page } from "@itl-attestation/core"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import { DeliveryWake } from "./DeliveryWake.js"
import { WebhooksRead, WebhooksWrite } from "./scopes.js"
import { generateSecret } from "./signing.js"
import { checkTarget } from "./targets.js"
import { CreatedWebhook, DeliveryList, ReplayResult, type CreateWebhook, type UpdateWebhook, WebhookList } from "./Webhook.js"
import { WebhookSettings } from "./WebhookConfig.js"
import { type DeliveryRow, messageBody, secretAad, toDelivery, toWebhook, type WebhookRow } from "./WebhookRow.js"

/** How long a replaced secret keeps signing (a second signature), as Svix does. */
export const ROTATION_OVERLAP_HOURS = 24

const badField = (field: string, message: string) => new BadRequest({ message: `${field}: ${message}`, details: { fields: [field] } })

/** Where webhook secrets are sealed, for the master key rewrap (`POST /api/v1/keyring/rewrap`). */
export const webhookSecretsSealed = {
  owner: "webhooks",
  table: "extension_webhooks",
  id: "webhook_id",
  keyId: "secret_key_id",
  nonce: "secret_nonce",
  ciphertext: "secret",
  tag: "secret_tag",
  aad: (row: Record<string, unknown>) => secretAad(String(row.webhook_id), "secret")
} as const

/** What an audit row may say about a URL: its origin and path, never its query (which may hold a token). */
const urlForAudit = (url: string) => {
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}`
}

export class Webhooks extends Effect.Service<Webhooks>()("@itl-attestation/webhooks/Webhooks", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const keyring = yield* Keyring
    const changes = yield* AuditedChanges
    const bus = yield* EventBus
    const wake = yield* DeliveryWake
    const config = yield* WebhookSettings
    yield* Effect.flatMap(MasterKeyRewrap, (rewrap) => rewrap.register(webhookSecretsSealed))

    /** Every type must be in the catalog now (a type of an extension loaded later counts); `*` is all. */
    const checkEvents = (events: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const known = new Set(yield* bus.eventTypes)
        const unknown = events.filter((type) => type !== "*" && !known.has(type))
        if (unknown.length > 0) {
          return yield* badField("events", `unknown event type ${unknown.join(", ")} (GET /api/v1/events/types lists them)`)
        }
        return [...new Set(events)]
      })

    const checkUrl = (url: string) =>
      checkTarget(url, config.allowPrivate).pipe(
        Effect.mapError((refused) => badField("url", refused.message)),
        Effect.as(url)
      )

    const seal = (webhookId: string, slot: "secret" | "previous_secret", secret: string) => keyring.seal(Buffer.from(secret, "utf8"), secretAad(webhookId, slot))

    const find = (id: string) =>
      Effect.flatMap(sql<WebhookRow>`SELECT * FROM extension_webhooks WHERE webhook_id = ${id}`, ([row]) =>
        row === undefined ? Effect.fail(new NotFound({ message: `webhook ${id} not found` })) : Effect.succeed(row)
      )

    const create = (input: CreateWebhook) =>
      Effect.gen(function* () {
        const operator = yield* authorized(WebhooksWrite)
        const events = yield* checkEvents(input.events)
        const url = yield* checkUrl(input.url)
        const generated = input.secret === undefined ? generateSecret() : undefined
        const webhookId = crypto.randomUUID()
        const sealed = seal(webhookId, "secret", input.secret ?? generated!)
        const enabled = input.enabled ?? true
        const row = yield* changes.run(
          actorOf(operator),
          Effect.map(
            sql<WebhookRow>`INSERT INTO extension_webhooks
                (webhook_id, url, events, secret, secret_nonce, secret_tag, secret_key_id, enabled, created_by)
              VALUES (${webhookId}, ${url}, ${events.join(",")}, ${sealed.ciphertext}, ${sealed.nonce}, ${sealed.tag}, ${sealed.keyId},
                ${enabled}, ${operator.name})
              RETURNING *`,
            (rows) => rows[0]!
          ),
          () => ({
            action: "webhook.created",
            targetType: "webhook",
            targetId: webhookId,
            details: { url: urlForAudit(url), events, enabled, secret_generated: generated !== undefined }
          })
        )
        return new CreatedWebhook({ ...toWebhook(row), ...(generated === undefined ? {} : { secret: generated }) })
      }).pipe(sqlDefect, traced("Webhooks.create"))

    const list = (page: Page) =>
      Effect.gen(function* () {
        yield* authorized(WebhooksRead)
        const rows = yield* sql<WebhookRow>`SELECT * FROM extension_webhooks ORDER BY created_at, webhook_id LIMIT ${page.limit} OFFSET ${page.offset}`
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM extension_webhooks`
        return new WebhookList({ webhooks: rows.map(toWebhook), total: count!.total, ...page })
      }).pipe(sqlDefect, traced("Webhooks.list"))

    const get = (id: string) =>
      Effect.gen(function* () {
        yield* authorized(WebhooksRead)
        return toWebhook(yield* find(id))
      }).pipe(sqlDefect, traced("Webhooks.get"))

    const update = (id: string, input: UpdateWebhook) =>
      Effect.gen(function* () {
        const operator = yield* authorized(WebhooksWrite)
        const events = input.events === undefined ? undefined : yield* checkEvents(input.events)
        const url = input.url === undefined ? undefined : yield* checkUrl(input.url)
        const row = yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            // The row is locked: a concurrent rotation cannot make this one's "previous" secret stale.
            const [before] = yield* sql<WebhookRow>`SELECT * FROM extension_webhooks WHERE webhook_id = ${id} FOR UPDATE`
            if (before === undefined) return yield* new NotFound({ message: `webhook ${id} not found` })
            let rotation = sql``
            if (input.secret !== undefined) {
              const current = yield* keyring
                .open({ keyId: before.secret_key_id, nonce: before.secret_nonce, ciphertext: before.secret, tag: before.secret_tag }, secretAad(id, "secret"))
                .pipe(Effect.orDie)
              const next = seal(id, "secret", input.secret)
              const previous = seal(id, "previous_secret", current.toString("utf8"))
              rotation = sql`, secret = ${next.ciphertext}, secret_nonce = ${next.nonce}, secret_tag = ${next.tag}, secret_key_id = ${next.keyId},
                previous_secret = ${previous.ciphertext}, previous_secret_nonce = ${previous.nonce}, previous_secret_tag = ${previous.tag},
                previous_secret_key_id = ${previous.keyId},
                previous_secret_expires_at = now() + make_interval(hours => ${ROTATION_OVERLAP_HOURS})`
            }
            const [after] = yield* sql<WebhookRow>`UPDATE extension_webhooks SET updated_at = now()
                ${url === undefined ? sql`` : sql`, url = ${url}`}
                ${events === undefined ? sql`` : sql`, events = ${events.join(",")}`}
                ${input.enabled === undefined ? sql`` : input.enabled
                  ? sql`, enabled = true, disabled_reason = NULL, consecutive_failures = CASE WHEN enabled THEN consecutive_failures ELSE 0 END`
                  : sql`, enabled = false, disabled_reason = NULL`}
                ${rotation}
              WHERE webhook_id = ${id} RETURNING *`
            if (input.enabled === false) {
              yield* sql`UPDATE extension_webhook_deliveries SET state = 'cancelled', error = 'the webhook was disabled by an operator', lease_until = NULL
                WHERE webhook_id = ${id} AND state = 'pending'`
            }
            return after!
          }),
          (row) => ({
            action: "webhook.updated",
            targetType: "webhook",
            targetId: id,
            details: {
              ...(url === undefined ? {} : { url: urlForAudit(row.url) }),
              ...(events === undefined ? {} : { events }),
              ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
              ...(input.secret === undefined ? {} : { secret_rotated: true })
            }
          })
        )
        if (row.enabled) yield* wake.nudge
        return toWebhook(row)
      }).pipe(sqlDefect, traced("Webhooks.update"))

    const remove = (id: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(WebhooksWrite)
        yield* changes.run(
          actorOf(operator),
          // History first, then the webhook: the delivery worker locks an attempt's row and then its webhook's, and
          // deleting the webhook alone (its history by cascade) took them in the other order: a delete while an
          // attempt was being recorded ended in a deadlock (500).
          sql`DELETE FROM extension_webhook_deliveries WHERE webhook_id = ${id}`.pipe(
            Effect.zipRight(sql<WebhookRow>`DELETE FROM extension_webhooks WHERE webhook_id = ${id} RETURNING *`),
            Effect.flatMap(([row]) =>
              row === undefined ? Effect.fail(new NotFound({ message: `webhook ${id} not found` })) : Effect.succeed(row)
            )
          ),
          (row) => ({ action: "webhook.deleted", targetType: "webhook", targetId: id, details: { url: urlForAudit(row.url) } })
        )
      }).pipe(sqlDefect, traced("Webhooks.delete"))

    const deliveries = (id: string, page: Page) =>
      Effect.gen(function* () {
        yield* authorized(WebhooksRead)
        yield* find(id)
        const rows = yield* sql<DeliveryRow>`SELECT * FROM extension_webhook_deliveries WHERE webhook_id = ${id}
          ORDER BY created_at DESC, attempt DESC, delivery_id LIMIT ${page.limit} OFFSET ${page.offset}`
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM extension_webhook_deliveries WHERE webhook_id = ${id}`
        return new DeliveryList({ deliveries: rows.map(toDelivery), total: count!.total, ...page })
      }).pipe(sqlDefect, traced("Webhooks.deliveries"))

    const enabledOrFail = (id: string) =>
      Effect.flatMap(find(id), (row) =>
        row.enabled ? Effect.succeed(row) : Effect.fail(new Conflict({ message: `webhook ${id} is disabled; enable it first (PUT {"enabled": true})` }))
      )

    const test = (id: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(WebhooksWrite)
        const row = yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            yield* enabledOrFail(id)
            const body = messageBody("webhook.test", new Date().toISOString(), null, { webhook_id: id })
            const [row] = yield* sql<DeliveryRow>`INSERT INTO extension_webhook_deliveries
                (webhook_id, message_id, event_seq, event_type, payload, trigger, attempt, state)
              VALUES (${id}, ${crypto.randomUUID()}, NULL, 'webhook.test', ${body}, 'test', 1, 'pending') RETURNING *`
            return row!
          }),
          (row) => ({ action: "webhook.tested", targetType: "webhook", targetId: id, details: { message_id: row.message_id } })
        )
        yield* wake.nudge
        return toDelivery(row)
      }).pipe(sqlDefect, traced("Webhooks.test"))

    const redeliver = (id: string, deliveryId: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(WebhooksWrite)
        const row = yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            yield* enabledOrFail(id)
            // The same message (same webhook-id, same body) as a new first attempt.
            const [row] = yield* sql<DeliveryRow>`INSERT INTO extension_webhook_deliveries
                (webhook_id, message_id, event_seq, event_type, payload, trigger, attempt, state)
              SELECT webhook_id, message_id, event_seq, event_type, payload, 'redeliver', 1, 'pending'
              FROM extension_webhook_deliveries WHERE delivery_id = ${deliveryId} AND webhook_id = ${id}
              RETURNING *`
            if (row === undefined) return yield* new NotFound({ message: `webhook ${id} has no delivery ${deliveryId}` })
            return row
          }),
          (row) => ({
            action: "webhook.redelivered",
            targetType: "webhook",
            targetId: id,
            details: { delivery_id: deliveryId, message_id: row.message_id }
          })
        )
        yield* wake.nudge
        return toDelivery(row)
      }).pipe(sqlDefect, traced("Webhooks.redeliver"))

    const replay = (id: string, since: string) =>
      Effect.gen(function* () {
        const operator = yield* authorized(WebhooksWrite)
        const sinceDate = new Date(since)
        const replayed = yield* changes.run(
          actorOf(operator),
          Effect.gen(function* () {
            yield* enabledOrFail(id)
            // Each message once, from its first row (event or test); redeliveries and replays are copies of those.
            const rows = yield* sql<{ delivery_id: string }>`INSERT INTO extension_webhook_deliveries
                (webhook_id, message_id, event_seq, event_type, payload, trigger, attempt, state)
              SELECT webhook_id, message_id, event_seq, event_type, payload, 'replay', 1, 'pending'
              FROM extension_webhook_deliveries
              WHERE webhook_id = ${id} AND trigger IN ('event', 'test') AND attempt = 1 AND created_at >= ${sinceDate}
              ORDER BY created_at, event_seq
              RETURNING delivery_id`
            return rows.length
          }),
          (replayed) => ({ action: "webhook.replayed", targetType: "webhook", targetId: id, details: { since: sinceDate.toISOString(), replayed } })
        )
        yield* wake.nudge
        return new ReplayResult({ replayed })
      }).pipe(sqlDefect, traced("Webhooks.replay"))

    return { create, list, get, update, remove, deliveries, test, redeliver, replay } as const
  })
}) {}
