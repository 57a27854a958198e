/**
 * Builders for a command's options and positional arguments. Each builds a
 * spec with its parser; the value type follows from the configuration
 * (`required` or a `default` makes it non-optional).
 */
import type { ArgSpec, OptionKind, OptionSpec, Parsed } from "./spec.js"

interface Common {
  /** One line: what the option does. */
  readonly description: string
  readonly short?: string
  /** The word after the flag in help (default: the name in capitals). */
  readonly placeholder?: string
  /** An environment variable read when the flag is absent. */
  readonly env?: string
  /** A credential: never shown, logged or echoed back. */
  readonly secret?: boolean
}

interface Presence<A> {
  readonly required?: boolean
  readonly default?: A
}

/** `A`, or `A | undefined` unless the option is required or has a default. */
type Value<C, A> = C extends { readonly required: true } ? A : C extends { readonly default: unknown } ? A : A | undefined

const ok = <A>(value: A): Parsed<A> => ({ ok: true, value })
const refuse = (message: string): Parsed<never> => ({ ok: false, message })

/** Shows a user's value in a message: quoted, control characters escaped, long values cut. */
export const quote = (value: string) => {
  const escaped = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)
  return `'${escaped.slice(1, -1)}'`
}

const make = <A>(
  name: string,
  kind: OptionKind,
  config: Common & Presence<unknown>,
  shownDefault: string | undefined,
  convert: (raw: string) => Parsed<A>,
  fallback: A | undefined
): OptionSpec<A | undefined> => ({
  name,
  kind,
  placeholder: kind === "boolean" ? "" : (config.placeholder ?? name.toUpperCase().replace(/-/g, "_")),
  description: config.description,
  required: config.required === true,
  ...(config.short === undefined ? {} : { short: config.short }),
  ...(config.env === undefined ? {} : { env: config.env }),
  ...(shownDefault === undefined ? {} : { default: shownDefault }),
  ...(config.secret === undefined ? {} : { secret: config.secret }),
  parse: (raw) => {
    if (raw === undefined) return config.required === true ? refuse("is required") : ok(fallback)
    if (typeof raw === "boolean") return refuse("needs a value")
    return convert(raw)
  }
})

interface TextConfig extends Common, Presence<string> {
  /** Why a value is not acceptable, or undefined when it is. */
  readonly validate?: (value: string) => string | undefined
}

interface IntegerConfig extends Common, Presence<number> {
  readonly min?: number
  readonly max?: number
}

const checkText = (validate: TextConfig["validate"]) => (raw: string) => {
  const problem = validate?.(raw)
  return problem === undefined ? ok(raw) : refuse(problem)
}

export const option = {
  text: <const C extends TextConfig>(name: string, config: C): OptionSpec<Value<C, string>> =>
    make(name, "text", config, config.default, checkText(config.validate), config.default) as OptionSpec<Value<C, string>>,

  integer: <const C extends IntegerConfig>(name: string, config: C): OptionSpec<Value<C, number>> => {
    const min = config.min ?? Number.MIN_SAFE_INTEGER
    const max = config.max ?? Number.MAX_SAFE_INTEGER
    const range = config.min !== undefined && config.max !== undefined ? ` from ${min} to ${max}` : config.min !== undefined ? ` of at least ${min}` : ""
    return make(
      name,
      "integer",
      config,
      config.default === undefined ? undefined : String(config.default),
      (raw) => {
        const value = /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN
        return Number.isSafeInteger(value) && value >= min && value <= max ? ok(value) : refuse(`expected an integer${range}, got ${quote(raw)}`)
      },
      config.default
    ) as OptionSpec<Value<C, number>>
  },

  choice: <const L extends ReadonlyArray<string>, const C extends Common & Presence<L[number]>>(
    name: string,
    choices: L,
    config: C
  ): OptionSpec<Value<C, L[number]>> =>
    ({
      ...make(
        name,
        "choice",
        config,
        config.default,
        (raw) => (choices.includes(raw) ? ok(raw) : refuse(`expected one of ${choices.join(", ")}, got ${quote(raw)}`)),
        config.default
      ),
      choices
    }) as OptionSpec<Value<C, L[number]>>,

  /** Comma-separated values (`--events a,b`); spaces around items and empty items are ignored. */
  list: <const C extends Common & Presence<ReadonlyArray<string>> & { readonly validate?: (item: string) => string | undefined }>(
    name: string,
    config: C
  ): OptionSpec<Value<C, ReadonlyArray<string>>> =>
    make(
      name,
      "list",
      config,
      config.default?.join(","),
      (raw) => {
        const items = raw.split(",").map((item) => item.trim()).filter((item) => item !== "")
        for (const item of items) {
          const problem = config.validate?.(item)
          if (problem !== undefined) return refuse(`${quote(item)}: ${problem}`)
        }
        return ok(items)
      },
      config.default
    ) as OptionSpec<Value<C, ReadonlyArray<string>>>,

  /** A flag without a value: true when given. */
  boolean: (name: string, config: Omit<Common, "placeholder" | "secret">): OptionSpec<boolean> => ({
    name,
    kind: "boolean",
    placeholder: "",
    description: config.description,
    required: false,
    ...(config.short === undefined ? {} : { short: config.short }),
    ...(config.env === undefined ? {} : { env: config.env }),
    parse: (raw) => {
      if (raw === undefined || typeof raw === "boolean") return ok(raw === true)
      // From the environment: the usual spellings.
      if (/^(1|true|yes|on)$/i.test(raw)) return ok(true)
      if (/^(0|false|no|off|)$/i.test(raw)) return ok(false)
      return refuse(`expected true or false, got ${quote(raw)}`)
    }
  })
}

interface ArgConfig {
  readonly description: string
  readonly optional?: boolean
  readonly validate?: (value: string) => string | undefined
}

export const arg = {
  text: <const C extends ArgConfig>(name: string, config: C): ArgSpec<C extends { readonly optional: true } ? string | undefined : string> => ({
    name,
    description: config.description,
    optional: config.optional === true,
    parse: (raw) => {
      if (raw === undefined) return config.optional === true ? ok(undefined as never) : refuse("is required")
      const problem = config.validate?.(raw)
      return problem === undefined ? ok(raw as never) : refuse(problem)
    }
  })
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `validate` for ids: checked before any request, so a typo is a usage error naming the argument. */
export const uuid = (value: string) => (UUID.test(value) ? undefined : `expected a UUID, got ${quote(value)}`)
