/** The webhooks extension's settings, read once through Effect Config (docs/configuration.md). */
import { describeFailure, FatalExtensionError } from "@itl-attestation/core"
import { Config, type ConfigError, Effect } from "effect"
import { parseDuration, parseSchedule } from "./durations.js"

/** Standard Webhooks / Svix-like: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about a day). */
export const DEFAULT_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h"

export interface WebhookConfigShape {
  /** Waits before each retry, in ms; a message gets 1 + schedule.length attempts. */
  readonly schedule: ReadonlyArray<number>
  readonly timeoutMs: number
  readonly disableAfter: number
  readonly concurrency: number
  readonly allowPrivate: boolean
  /** How long finished attempts stay in the history. */
  readonly retentionMs: number
}

const duration = (name: string, fallback: string) =>
  // Validated before the default is applied: a validation error then names the variable.
  Config.string(name).pipe(
    Config.validate({ message: "must be a duration such as 500ms, 10s, 5m or 2h", validation: (v) => (parseDuration(v) ?? 0) > 0 }),
    Config.map((v) => parseDuration(v)!),
    Config.withDefault(parseDuration(fallback)!)
  )

export const webhookConfig: Config.Config<WebhookConfigShape> = Config.all({
  schedule: Config.string("ITL_WEBHOOK_RETRY_SCHEDULE").pipe(
    Config.validate({
      message: "must be comma-separated durations such as 5s,5m,30m (the waits before each retry)",
      validation: (v) => parseSchedule(v) !== undefined
    }),
    Config.map((v) => parseSchedule(v)!),
    Config.withDefault(parseSchedule(DEFAULT_SCHEDULE)!)
  ),
  timeoutMs: duration("ITL_WEBHOOK_TIMEOUT", "10s"),
  disableAfter: Config.integer("ITL_WEBHOOK_DISABLE_AFTER").pipe(
    Config.validate({ message: "must be an integer of at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(5)
  ),
  concurrency: Config.integer("ITL_WEBHOOK_CONCURRENCY").pipe(
    Config.validate({ message: "must be an integer from 1 to 1000", validation: (n) => n >= 1 && n <= 1000 }),
    Config.withDefault(16)
  ),
  allowPrivate: Config.boolean("ITL_WEBHOOK_ALLOW_PRIVATE").pipe(Config.withDefault(false)),
  retentionMs: duration("ITL_WEBHOOK_HISTORY_RETENTION", "30d")
})

/**
 * The settings, read once when the extension loads. A malformed value stops the whole start with one line
 * naming the variable (FatalExtensionError), rather than leaving webhooks silently out.
 */
export class WebhookSettings extends Effect.Service<WebhookSettings>()("@itl-attestation/webhooks/WebhookSettings", {
  effect: webhookConfig.pipe(Effect.mapError((error: ConfigError.ConfigError) => new FatalExtensionError({ message: describeFailure(error) })))
}) {}
