/**
 * The global options every command gets, as a command's handler sees them.
 * The runner resolves them (flag, then environment, then the profile saved by
 * `attestation login`, then the default): see framework/globalOptions.ts.
 */
import { Option, Redacted } from "effect"
import type { OutputFormat, RunnerGlobals } from "./framework/spec.js"

export type { OutputFormat }

export const DEFAULT_URL = "http://localhost:9000"

export interface Globals {
  /** Base URL of the server, without a trailing slash. */
  readonly url: string
  readonly token: Option.Option<Redacted.Redacted<string>>
  readonly output: OutputFormat
  /** Show each HTTP request and response status on stderr (credentials redacted). */
  readonly verbose: boolean
  /** The profile asked for (--profile, ITL_PROFILE), else `default`. */
  readonly profile: string
}

export const fromRunner = (globals: RunnerGlobals): Globals => ({
  url: globals.url,
  token: globals.token === undefined ? Option.none() : Option.some(Redacted.make(globals.token)),
  output: globals.output,
  verbose: globals.verbose,
  profile: globals.profile
})
