/**
 * The root `attestation` command and its global options. It lives apart from
 * cli.ts so that every command group can `yield* root` to read the parsed
 * globals without importing the tree that imports them.
 */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Config, Effect, Option, Redacted } from "effect"

export const DEFAULT_URL = "http://localhost:9000"

export type OutputFormat = "table" | "json"

const url = Options.text("url").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription(`Base URL of the attestation server (env ITL_URL, default ${DEFAULT_URL})`),
  Options.withFallbackConfig(Config.string("ITL_URL")),
  Options.withDefault(DEFAULT_URL),
  // Checked here so a typo is a usage error, not a confusing transport failure.
  Options.mapEffect((value) =>
    Effect.try({
      try: () => {
        const parsed = new URL(value)
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http")
        return value.replace(/\/+$/, "")
      },
      catch: () => ValidationError.invalidValue(HelpDoc.p(`--url must be an http(s) URL, got '${value}'`))
    })
  )
)

const token = Options.redacted("token").pipe(
  Options.withPseudoName("TOKEN"),
  Options.withDescription("Operator bearer token (env ITL_TOKEN, preferred: a flag shows in the process list)"),
  Options.withFallbackConfig(Config.redacted("ITL_TOKEN")),
  Options.optional,
  // `ITL_TOKEN=` (set but empty) means no token, not an empty bearer token.
  Options.map(Option.filter((value) => Redacted.value(value).trim() !== ""))
)

const output = Options.choice("output", ["table", "json"]).pipe(
  Options.withAlias("o"),
  Options.withDescription("How results are printed: an aligned table, or the API's JSON"),
  Options.withDefault("table" as const)
)

/** No handler: `attestation` on its own shows the help. */
export const root = Command.make("attestation", { url, token, output })

export interface Globals {
  readonly url: string
  readonly token: Option.Option<Redacted.Redacted<string>>
  readonly output: OutputFormat
}
