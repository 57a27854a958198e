/** The options every command takes, wherever they appear on the command line. */
import { option, quote } from "./options.js"
import type { OptionSpec } from "./spec.js"

export const DEFAULT_URL = "http://localhost:9000"

const httpUrl = (value: string) => {
  try {
    const parsed = new URL(value)
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? undefined : `expected an http(s) URL, got ${quote(value)}`
  } catch {
    return `expected an http(s) URL, got ${quote(value)}`
  }
}

export const globalOptions = {
  url: option.text("url", {
    description: `Base URL of the attestation server (default ${DEFAULT_URL}, or the profile's)`,
    placeholder: "URL",
    env: "ITL_URL",
    validate: httpUrl
  }),
  token: option.text("token", {
    description: "Operator token (prefer ITL_TOKEN or a profile: a flag shows in the process list)",
    placeholder: "TOKEN",
    env: "ITL_TOKEN",
    secret: true
  }),
  output: option.choice("output", ["table", "json", "yaml", "id"], {
    description: "table (for people), json or yaml (for scripts), id (only the ids)",
    short: "o",
    placeholder: "FORMAT",
    default: "table"
  }),
  quiet: option.boolean("quiet", { description: "Print only ids, one per line (same as -o id)", short: "q" }),
  profile: option.text("profile", {
    description: "Use this saved profile (see attestation login; default: the profile named default)",
    placeholder: "NAME",
    env: "ITL_PROFILE",
    validate: (value) => (/^[A-Za-z0-9._-]{1,64}$/.test(value) ? undefined : `expected letters, digits, . _ - (at most 64), got ${quote(value)}`)
  }),
  verbose: option.boolean("verbose", { description: "Show each HTTP request and its status on stderr (credentials redacted)" }),
  help: option.boolean("help", { description: "Show help for the command", short: "h" }),
  version: option.boolean("version", { description: "Print the version" })
} as const

export const GLOBAL_OPTIONS: ReadonlyArray<OptionSpec> = Object.values(globalOptions)
