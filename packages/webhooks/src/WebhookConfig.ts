/** The webhooks extension's settings, read once through Effect Config (docs/configuration.md). */
import { Config } from "effect"
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
}

const duration = (name: string, fallback: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.validate({ message: "must be a duration such as 500ms, 10s, 5m or 2h", validation: (v) => (parseDuration(v) ?? 0) > 0 }),
    Config.map((v) => parseDuration(v)!)
  )

export const webhookConfig: Config.Config<WebhookConfigShape> = Config.all({
  schedule: Config.string("ITL_WEBHOOK_RETRY_SCHEDULE").pipe(
    Config.withDefault(DEFAULT_SCHEDULE),
    Config.validate({
      message: "must be comma-separated durations such as 5s,5m,30m (the waits before each retry)",
      validation: (v) => parseSchedule(v) !== undefined
    }),
    Config.map((v) => parseSchedule(v)!)
  ),
  timeoutMs: duration("ITL_WEBHOOK_TIMEOUT", "10s"),
  disableAfter: Config.integer("ITL_WEBHOOK_DISABLE_AFTER").pipe(
    Config.withDefault(5),
    Config.validate({ message: "must be an integer of at least 1", validation: (n) => n >= 1 })
  ),
  concurrency: Config.integer("ITL_WEBHOOK_CONCURRENCY").pipe(
    Config.withDefault(16),
    Config.validate({ message: "must be an integer from 1 to 1000", validation: (n) => n >= 1 && n <= 1000 })
  ),
  allowPrivate: Config.boolean("ITL_WEBHOOK_ALLOW_PRIVATE").pipe(Config.withDefault(false))
})
