/** The pulumi_state extension's settings, read once through Effect Config (docs/configuration.md). */
import { describeFailure, FatalExtensionError } from "@itl-attestation/core"
import { Config, type ConfigError, Effect, type Option, Redacted } from "effect"

export interface PulumiConfigShape {
  /** When set, `Authorization: token <this>` is accepted with every pulumi_state right. */
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** The organization `/api/user` names as the user's and its default org. */
  readonly org: string
  /** false: the extension answers 404 on every route of its API. */
  readonly enabled: boolean
}

/** The owner form the CLI accepts for an organization (3–40 characters). */
export const ORG_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_-]{1,38}[a-zA-Z0-9]$/

export const pulumiConfig: Config.Config<PulumiConfigShape> = Config.all({
  token: Config.redacted("ITL_PULUMI_TOKEN").pipe(
    Config.validate({
      message: "ITL_PULUMI_TOKEN must be at least 16 characters without spaces or control characters (it is an access token)",
      validation: (value) => /^[\x21-\x7e]{16,}$/.test(Redacted.value(value))
    }),
    Config.option
  ),
  org: Config.string("ITL_PULUMI_ORG").pipe(
    Config.validate({
      message: "ITL_PULUMI_ORG must be 3–40 letters, digits, '-' or '_', starting and ending with a letter or digit",
      validation: (value) => ORG_PATTERN.test(value)
    }),
    Config.withDefault("itlusions")
  ),
  enabled: Config.boolean("ITL_PULUMI_ENABLED").pipe(Config.withDefault(true))
})

/** Read once when the extension loads; a malformed value stops the start with one line naming the variable. */
export class PulumiSettings extends Effect.Service<PulumiSettings>()("@itl-attestation/pulumi-state/PulumiSettings", {
  effect: pulumiConfig.pipe(Effect.mapError((error: ConfigError.ConfigError) => new FatalExtensionError({ message: describeFailure(error) })))
}) {}
