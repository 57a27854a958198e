/**
 * Delivery, in two parts:
 *
 * - the fan-out: a durable consumer of the outbox (`webhooks.delivery`) that
 *   turns each event into one message row per subscribed webhook, keyed on
 *   (webhook, event seq), so an event handed over again after a crash adds
 *   nothing;
 * - the worker: claims due attempts with FOR UPDATE SKIP LOCKED and a lease
 *   (one attempt in flight per webhook, at most ITL_WEBHOOK_CONCURRENCY in
 *   all), sends each outside any transaction, and records the outcome with
 *   the next attempt, the counters and, when it comes to that, the webhook's
 *   disabling, in one audited transaction. A crashed instance's claim runs
 *   out (timeout + a margin) and the attempt is made again: at least once.
 */
import { SqlClient } from "@effect/sql"
import { AuditedChanges, EventBus, Keyring, Measurements, type StoredEvent, systemActor } from "@itl-attestation/core"
import { Cause, DateTime, Effect, FiberSet, Layer, Option, Ref } from "effect"
import * as crypto from "node:crypto"
import { DeliveryWake } from "./DeliveryWake.js"
import { formatMs } from "./durations.js"
import { type Answer, post, retryAfterMs } from "./send.js"
import { signatureHeaders } from "./signing.js"
import { checkTarget, TargetRefused } from "./targets.js"
import { WebhookSettings } from "./WebhookConfig.js"
import { type DeliveryRow, messageBody, secretAad, type WebhookRow } from "./WebhookRow.js"

export const USER_AGENT = "ITL-Attestation-Webhooks/1.0.0"

/** Longest wait between two looks at the table (work queued by other instances, retries due). */
const POLL_MS = 1000

/** Messages of one webhook sent in a row by one worker slot before it is given back. */
const CHAIN = 16

/** A claimed attempt, with what sending it needs of its webhook. */
type Claimed = DeliveryRow &
  Pick<
    WebhookRow,
    | "url"
    | "secret"
    | "secret_nonce"
    | "secret_tag"
    | "secret_key_id"
    | "previous_secret"
    | "previous_secret_nonce"
    | "previous_secret_tag"
    | "previous_secret_key_id"
    | "previous_secret_expires_at"
  >

type Outcome =
  | { readonly ok: true; readonly answer: Answer; readonly durationMs: number; readonly startedAt: Date }
  | {
      readonly ok: false
      readonly answer: Answer | undefined
      readonly error: string
      readonly durationMs: number
      readonly startedAt: Date
      /** Set when the answer ends the webhook (410 Gone). */
      readonly disable?: string
    }

/** `delay` with ±20% jitter, raised to a Retry-After the endpoint asked for, but not beyond the schedule's last step. */
export const nextDelay = (schedule: ReadonlyArray<number>, attempt: number, retryAfter: number | undefined, random = Math.random()) => {
  const base = schedule[attempt - 1]!
  const jittered = Math.round(base * (0.8 + 0.4 * random))
  const cap = schedule[schedule.length - 1]!
  return retryAfter !== undefined && retryAfter > jittered ? Math.min(retryAfter, Math.max(cap, jittered)) : jittered
}

export const DeliveryWorker = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const keyring = yield* Keyring
    const changes = yield* AuditedChanges
    const bus = yield* EventBus
    const wake = yield* DeliveryWake
    const config = yield* WebhookSettings
    // Exporters (the metrics extension) count attempts from here: one per HTTP attempt, by its outcome.
    const attemptCounter = yield* (yield* Measurements).counter({
      name: "webhook_deliveries",
      help: "Webhook delivery attempts, by event type and outcome (success: a 2xx answer; failure: anything else)",
      labels: ["event_type", "status"]
    })
    const instance = crypto.randomUUID()
    const leaseSeconds = Math.ceil(config.timeoutMs / 1000) + 5
    const attempts = config.schedule.length + 1

    // --- fan-out -------------------------------------------------------------
    const fanOut = (event: StoredEvent) =>
      Effect.gen(function* () {
        const body = messageBody(event.event_type, DateTime.formatIso(event.timestamp), event.machine_id ?? null, event.data)
        // A disabled webhook gets the message as `skipped`: its history shows what it missed, and a replay sends it.
        const rows = yield* sql<{ delivery_id: string }>`INSERT INTO extension_webhook_deliveries
            (webhook_id, message_id, event_seq, event_type, payload, trigger, attempt, state)
          SELECT webhook_id, gen_random_uuid(), ${event.seq}, ${event.event_type}, ${body}, 'event', 1,
            CASE WHEN enabled THEN 'pending' ELSE 'skipped' END
          FROM extension_webhooks
          WHERE ${event.event_type} = ANY(string_to_array(events, ',')) OR '*' = ANY(string_to_array(events, ','))
          ON CONFLICT (webhook_id, event_seq) WHERE trigger = 'event' AND attempt = 1 DO NOTHING
          RETURNING delivery_id`
        if (rows.length > 0) yield* wake.nudge
      })
    yield* bus.consume({ name: "webhooks.delivery", startAt: "end", handle: fanOut })

    // --- worker ----------------------------------------------------------------
    const due = sql`((d.state = 'pending' AND d.next_attempt_at <= now()) OR (d.state = 'in_flight' AND d.lease_until < now()))`

    /** Up to `free` attempts, one per webhook that has none in flight; the row lock on the webhook keeps two instances apart. */
    const claim = (free: number) =>
      sql<Claimed>`
        WITH ready AS (
          SELECT w.webhook_id FROM extension_webhooks w
          WHERE w.enabled
            AND EXISTS (SELECT 1 FROM extension_webhook_deliveries d WHERE d.webhook_id = w.webhook_id AND ${due})
            AND NOT EXISTS (SELECT 1 FROM extension_webhook_deliveries f
              WHERE f.webhook_id = w.webhook_id AND f.state = 'in_flight' AND f.lease_until >= now())
          ORDER BY w.last_triggered_at NULLS FIRST
          LIMIT ${free}
          FOR NO KEY UPDATE OF w SKIP LOCKED
        ), picked AS (
          SELECT DISTINCT ON (d.webhook_id) d.delivery_id FROM extension_webhook_deliveries d
          JOIN ready r ON r.webhook_id = d.webhook_id
          WHERE ${due}
          ORDER BY d.webhook_id, d.next_attempt_at, d.created_at
        )
        UPDATE extension_webhook_deliveries d
        SET state = 'in_flight', lease_until = now() + make_interval(secs => ${leaseSeconds}), claimed_by = ${instance}
        FROM picked p, extension_webhooks w
        WHERE d.delivery_id = p.delivery_id AND w.webhook_id = d.webhook_id AND ${due}
        RETURNING d.*, w.url, w.secret, w.secret_nonce, w.secret_tag, w.secret_key_id, w.previous_secret, w.previous_secret_nonce,
          w.previous_secret_tag, w.previous_secret_key_id, w.previous_secret_expires_at`

    const openSecrets = (webhook: Claimed) =>
      Effect.gen(function* () {
        const current = yield* keyring.open(
          { keyId: webhook.secret_key_id, nonce: webhook.secret_nonce, ciphertext: webhook.secret, tag: webhook.secret_tag },
          secretAad(webhook.webhook_id, "secret")
        )
        const secrets = [current.toString("utf8")]
        if (
          webhook.previous_secret !== null &&
          webhook.previous_secret_expires_at !== null &&
          webhook.previous_secret_expires_at.getTime() > Date.now()
        ) {
          // A previous secret that no longer opens (its key retired after a rewrap) only loses its second signature.
          const previous = yield* keyring
            .open(
              {
                keyId: webhook.previous_secret_key_id!,
                nonce: webhook.previous_secret_nonce!,
                ciphertext: webhook.previous_secret,
                tag: webhook.previous_secret_tag!
              },
              secretAad(webhook.webhook_id, "previous_secret")
            )
            .pipe(Effect.option)
          if (Option.isSome(previous)) secrets.push(previous.value.toString("utf8"))
        }
        return secrets
      })

    const send = (row: Claimed): Effect.Effect<Outcome> =>
      Effect.gen(function* () {
        const startedAt = new Date()
        const started = performance.now()
        const elapsed = () => Math.round(performance.now() - started)
        const failed = (error: string, answer?: Answer, disable?: string): Outcome => ({
          ok: false,
          answer,
          error,
          durationMs: elapsed(),
          startedAt,
          ...(disable === undefined ? {} : { disable })
        })
        const secrets = yield* Effect.either(openSecrets(row))
        if (secrets._tag === "Left") return failed(`cannot open the signing secret: ${secrets.left.message}`)
        // Checked again at every attempt: the name may resolve elsewhere now. Resolving counts in the attempt's timeout.
        const target = yield* Effect.either(
          checkTarget(row.url, config.allowPrivate).pipe(
            Effect.timeoutFail({ duration: config.timeoutMs, onTimeout: () => new TargetRefused({ message: `resolving ${new URL(row.url).hostname} timed out` }) })
          )
        )
        if (target._tag === "Left") return failed(target.left.message.startsWith("resolving") ? target.left.message : `refused: ${target.left.message}`)
        const headers = {
          "content-type": "application/json",
          "user-agent": USER_AGENT,
          "x-webhook-event": row.event_type,
          ...signatureHeaders({ messageId: row.message_id, timestamp: Math.floor(Date.now() / 1000), body: row.payload, secrets: secrets.right })
        }
        const answer = yield* Effect.either(post({ ...target.right, headers, body: row.payload, timeoutMs: Math.max(1, config.timeoutMs - elapsed()), attemptTimeoutMs: config.timeoutMs }))
        if (answer._tag === "Left") return failed(answer.left.message)
        const a = answer.right
        if (a.status >= 200 && a.status < 300) return { ok: true, answer: a, durationMs: elapsed(), startedAt }
        if (a.status === 410) return failed("HTTP 410 Gone: the endpoint asked to stop", a, "the endpoint answered 410 Gone")
        if (a.status >= 300 && a.status < 400) {
          return failed(`HTTP ${a.status}: redirects are not followed${a.location === undefined ? "" : ` (Location: ${a.location.slice(0, 512)})`}`, a)
        }
        return failed(`HTTP ${a.status}`, a)
      })

    /** Turns the webhook off (once) and cancels what it had queued; the reason, or undefined when it was already off. */
    const disable = (webhookId: string, reason: string) =>
      Effect.gen(function* () {
        const rows = yield* sql`UPDATE extension_webhooks SET enabled = false, disabled_reason = ${reason}, updated_at = now()
          WHERE webhook_id = ${webhookId} AND enabled RETURNING webhook_id`
        if (rows.length === 0) return undefined
        yield* sql`UPDATE extension_webhook_deliveries SET state = 'cancelled', error = ${`the webhook was disabled: ${reason}`}
          WHERE webhook_id = ${webhookId} AND state = 'pending'`
        return reason
      })

    /**
     * A success changes two rows and nothing else: one statement, no transaction (the common case, kept cheap).
     * The same statement claims the webhook's next due message, if any, so a backlog costs one statement per
     * message: the webhook keeps its one attempt in flight (the row just recorded was it until this commits).
     */
    const recordSuccess = (row: DeliveryRow, outcome: Outcome & { ok: true }) =>
      sql<Claimed>`WITH done AS (
            UPDATE extension_webhook_deliveries
            SET state = 'succeeded', response_status = ${outcome.answer.status}, response_body = ${outcome.answer.body}, error = NULL,
                delivered_at = ${outcome.startedAt}, duration_ms = ${outcome.durationMs}, lease_until = NULL
            WHERE delivery_id = ${row.delivery_id} AND state = 'in_flight' AND claimed_by = ${instance}
            RETURNING webhook_id
          ), counted AS (
            UPDATE extension_webhooks w
            SET trigger_count = trigger_count + 1, last_triggered_at = now(), consecutive_failures = 0
            FROM done WHERE w.webhook_id = done.webhook_id
            RETURNING w.*
          ), next AS (
            SELECT d.delivery_id FROM extension_webhook_deliveries d JOIN counted c ON c.webhook_id = d.webhook_id
            WHERE c.enabled AND d.state = 'pending' AND d.next_attempt_at <= now()
            ORDER BY d.next_attempt_at, d.created_at
            LIMIT 1
            FOR UPDATE OF d SKIP LOCKED
          )
          UPDATE extension_webhook_deliveries d
          SET state = 'in_flight', lease_until = now() + make_interval(secs => ${leaseSeconds}), claimed_by = ${instance}
          FROM next, counted w
          WHERE d.delivery_id = next.delivery_id AND d.state = 'pending'
          RETURNING d.*, w.url, w.secret, w.secret_nonce, w.secret_tag, w.secret_key_id, w.previous_secret, w.previous_secret_nonce,
            w.previous_secret_tag, w.previous_secret_key_id, w.previous_secret_expires_at`.pipe(
        Effect.map((rows) => ({ disabled: undefined, retryIn: undefined, next: rows[0] }))
      )

    const record = (row: DeliveryRow, outcome: Outcome) =>
      outcome.ok ? recordSuccess(row, outcome) : recordFailure(row, outcome)

    const recordFailure = (row: DeliveryRow, outcome: Outcome) =>
      changes.run(
        systemActor,
        Effect.gen(function* () {
          const a = outcome.answer
          const kept = yield* sql`UPDATE extension_webhook_deliveries
            SET state = ${outcome.ok ? "succeeded" : "failed"}, response_status = ${a?.status ?? null}, response_body = ${a?.body ?? null},
                error = ${outcome.ok ? null : outcome.error}, delivered_at = ${outcome.startedAt}, duration_ms = ${outcome.durationMs},
                lease_until = NULL
            WHERE delivery_id = ${row.delivery_id} AND state = 'in_flight' AND claimed_by = ${instance}
            RETURNING delivery_id`
          // Deleted meanwhile (the webhook too), or the claim ran out and another instance took the attempt.
          if (kept.length === 0) return { disabled: undefined, retryIn: undefined }
          const [webhook] = yield* sql<{ consecutive_failures: number }>`UPDATE extension_webhooks
            SET trigger_count = trigger_count + 1, failure_count = failure_count + ${outcome.ok ? 0 : 1}, last_triggered_at = now(),
                consecutive_failures = ${outcome.ok ? 0 : sql`consecutive_failures`}
            WHERE webhook_id = ${row.webhook_id} RETURNING consecutive_failures`
          if (outcome.ok || webhook === undefined) return { disabled: undefined, retryIn: undefined }
          if (outcome.disable !== undefined) return { disabled: yield* disable(row.webhook_id, outcome.disable), retryIn: undefined }
          if (row.attempt < attempts) {
            const retryIn = nextDelay(config.schedule, row.attempt, retryAfterMs(a?.retryAfter, Date.now()))
            yield* sql`INSERT INTO extension_webhook_deliveries
                (webhook_id, message_id, event_seq, event_type, payload, trigger, attempt, state, next_attempt_at)
              VALUES (${row.webhook_id}, ${row.message_id}, ${row.event_seq}, ${row.event_type}, ${row.payload}, ${row.trigger},
                ${row.attempt + 1}, 'pending', now() + make_interval(secs => ${retryIn / 1000}))`
            return { disabled: undefined, retryIn }
          }
          // The message failed every attempt.
          const [counted] = yield* sql<{ consecutive_failures: number }>`UPDATE extension_webhooks
            SET consecutive_failures = consecutive_failures + 1 WHERE webhook_id = ${row.webhook_id} RETURNING consecutive_failures`
          const disabled =
            counted !== undefined && counted.consecutive_failures >= config.disableAfter
              ? yield* disable(row.webhook_id, `${counted.consecutive_failures} consecutive messages failed every attempt`)
              : undefined
          return { disabled, retryIn: undefined }
        }),
        ({ disabled }) =>
          disabled === undefined
            ? undefined
            : {
                action: "webhook.disabled",
                targetType: "webhook",
                targetId: row.webhook_id,
                details: { reason: disabled },
                events: [{ type: "webhook.disabled", data: { webhook_id: row.webhook_id, reason: disabled } }]
              }
      )

    // On shutdown, after the attempts in flight are interrupted (the FiberSet below closes first), their claims
    // are given back, so the next instance makes them at once instead of when the lease runs out.
    yield* Effect.addFinalizer(() =>
      sql`UPDATE extension_webhook_deliveries SET state = 'pending', lease_until = NULL, claimed_by = NULL
          WHERE claimed_by = ${instance} AND state = 'in_flight'`.pipe(Effect.ignore)
    )
    const fibers = yield* FiberSet.make()
    const busy = yield* Ref.make(0)

    /** One attempt, then (after a success) the webhook's next due messages, at most CHAIN in a row: then the slot is given back, so that other webhooks get their turn. */
    const attempt = (first: Claimed) =>
      Effect.gen(function* () {
        let row: Claimed | undefined = first
        for (let n = 0; row !== undefined; n++) {
          const current: Claimed = row
          const outcome = yield* send(current)
          attemptCounter.inc({ event_type: current.event_type, status: outcome.ok ? "success" : "failure" })
          const recorded: { retryIn: number | undefined; next?: Claimed | undefined } = yield* record(current, outcome).pipe(
            Effect.catchAllCause((cause) =>
              // The claim runs out and the attempt is made again.
              Effect.logWarning(`webhook delivery ${current.delivery_id} could not be recorded; it will be retried: ${Cause.pretty(cause).split("\n")[0]}`).pipe(
                Effect.as({ retryIn: undefined })
              )
            )
          )
          // Wake up when the retry falls due, rather than at the next poll.
          if (recorded.retryIn !== undefined) yield* FiberSet.run(fibers, Effect.sleep(recorded.retryIn).pipe(Effect.zipRight(wake.nudge)))
          row = recorded.next
          if (row !== undefined && n + 1 >= CHAIN) {
            // Given back as due: the next pass claims it (or another webhook's message) fairly.
            yield* sql`UPDATE extension_webhook_deliveries SET state = 'pending', lease_until = NULL, claimed_by = NULL
              WHERE delivery_id = ${row.delivery_id} AND claimed_by = ${instance} AND state = 'in_flight'`.pipe(Effect.ignore)
            row = undefined
          }
        }
      }).pipe(Effect.ensuring(Ref.update(busy, (n) => n - 1).pipe(Effect.zipRight(wake.nudge))))

    const pass = Effect.gen(function* () {
      const free = config.concurrency - (yield* Ref.get(busy))
      if (free <= 0) return yield* wake.wait(POLL_MS)
      const rows = yield* claim(free)
      for (const row of rows) {
        yield* Ref.update(busy, (n) => n + 1)
        yield* FiberSet.run(fibers, attempt(row))
      }
      if (rows.length < free) yield* wake.wait(POLL_MS)
    })

    yield* pass.pipe(
      Effect.catchAllCause((cause) =>
        Effect.logWarning(`webhook delivery worker: ${Cause.pretty(cause).split("\n")[0]}; retrying`).pipe(Effect.zipRight(Effect.sleep(POLL_MS)))
      ),
      Effect.forever,
      Effect.forkScoped
    )
    // History retention: finished attempts older than ITL_WEBHOOK_HISTORY_RETENTION go; queued ones stay.
    // Every instance sweeps; the DELETE is idempotent.
    yield* sql`DELETE FROM extension_webhook_deliveries
        WHERE state IN ('succeeded', 'failed', 'cancelled', 'skipped')
          AND created_at < now() - make_interval(secs => ${config.retentionMs / 1000})`.pipe(
      Effect.catchAllCause((cause) => Effect.logWarning(`webhook history pruning: ${Cause.pretty(cause).split("\n")[0]}`)),
      Effect.zipRight(Effect.sleep(Math.min(3_600_000, Math.max(1000, config.retentionMs / 2)))),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.logDebug(`webhook delivery: ${attempts} attempts per message (retries after ${config.schedule.map(formatMs).join(", ")})`)
  })
)
