/** The metrics extension's settings, read once through Effect Config (docs/configuration.md). */
import { describeFailure, FatalExtensionError } from "@itl-attestation/core"
import { Config, type ConfigError, Effect, type Option, Redacted } from "effect"

export interface MetricsConfigShape {
  /** When set, `GET /metrics` needs `Authorization: Bearer <token>`; otherwise it is open. */
  readonly token: Option.Option<Redacted.Redacted<string>>
}

export const metricsConfig: Config.Config<MetricsConfigShape> = Config.all({
  token: Config.redacted("ITL_METRICS_TOKEN").pipe(
    Config.validate({
      message: "ITL_METRICS_TOKEN must be at least 16 characters without spaces or control characters (it is a bearer token)",
      validation: (value) => /^[\x21-\x7e]{16,}$/.test(Redacted.value(value))
    }),
    Config.option
  )
})

/**
 * Read once when the extension loads; a malformed token stops the whole start with one line naming the
 * variable, rather than leaving /metrics open when the operator meant to protect it.
 */
export class MetricsSettings extends Effect.Service<MetricsSettings>()("@itl-attestation/metrics/MetricsSettings", {
  effect: metricsConfig.pipe(Effect.mapError((error: ConfigError.ConfigError) => new FatalExtensionError({ message: describeFailure(error) })))
}) {}
