/**
 * From raw command-line values to typed ones: each option's own parser, fed
 * by the flag, else its environment variable. Every message names the flag
 * (or the variable) it is about.
 */
import type { ArgSpec, CommandSpec, OptionSpec, Parsed } from "./spec.js"

export type Environment = Readonly<Record<string, string | undefined>>

/** An environment variable that is set but empty counts as unset. */
export const fromEnv = (env: Environment, name: string | undefined) => {
  if (name === undefined) return undefined
  const value = env[name]
  return value === undefined || value.trim() === "" ? undefined : value
}

export const bindOption = (
  spec: OptionSpec,
  values: Readonly<Record<string, string | boolean>>,
  env: Environment,
  fallback?: string
): Parsed<unknown> => {
  const given = values[spec.name]
  const fromVariable = given === undefined ? fromEnv(env, spec.env) : undefined
  const raw = given ?? fromVariable ?? fallback
  const result = spec.parse(raw)
  if (result.ok) return result
  const source = given === undefined && fromVariable !== undefined ? `${spec.env} (for --${spec.name})` : `--${spec.name}`
  return { ok: false, message: `${source}: ${result.message}` }
}

export const bindCommand = (
  command: CommandSpec,
  values: Readonly<Record<string, string | boolean>>,
  positionals: ReadonlyArray<string>,
  env: Environment
): Parsed<{ readonly options: Record<string, unknown>; readonly args: Record<string, unknown> }> => {
  const options: Record<string, unknown> = {}
  for (const spec of command.options) {
    const result = bindOption(spec, values, env)
    if (!result.ok) return result
    options[spec.name] = result.value
  }
  if (positionals.length > command.args.length) {
    const extra = positionals[command.args.length]!
    return { ok: false, message: `unexpected argument '${extra}'${command.args.length === 0 ? " (this command takes none)" : ""}` }
  }
  const args: Record<string, unknown> = {}
  command.args.forEach((spec: ArgSpec, i) => {
    args[spec.name] = spec.parse(positionals[i])
  })
  for (const spec of command.args) {
    const result = args[spec.name] as Parsed<unknown>
    if (!result.ok) return { ok: false, message: `<${spec.name}>: ${result.message === "is required" ? `required (${spec.description})` : result.message}` }
    args[spec.name] = result.value
  }
  return { ok: true, value: { options, args } }
}
