/**
 * The runner: argv in, exit code out. Parses against the tree, prints help,
 * version and usage errors itself, resolves the global options (flag, then
 * environment, then profile), loads an extension's command module only when
 * one of its commands runs, and hands the command its values.
 */
import { type Environment, bindCommand, bindOption } from "./bind.js"
import { candidates } from "./complete.js"
import { DEFAULT_URL, globalOptions } from "./globalOptions.js"
import { renderHelp } from "./help.js"
import { commandLine, parse } from "./parse.js"
import type { CommandSpec, NodeDescriptor, OutputFormat, RunnerGlobals } from "./spec.js"
import { isNodeSpec } from "./spec.js"
import { styleFor } from "./style.js"
import { ExitCode } from "../exitCodes.js"
import { type Profile, readProfiles } from "../profiles.js"

export interface Stream {
  readonly isTTY?: boolean
  readonly columns?: number
  write(text: string): unknown
}

export interface RunContext {
  readonly version: string
  readonly tree: NodeDescriptor
  /** The runnable spec of a command known only by its descriptor (an extension's, from the cache). */
  readonly load: (path: ReadonlyArray<string>) => Promise<CommandSpec | string>
  readonly env: Environment
  readonly stdout: Stream
  readonly stderr: Stream
}

const usage = (context: RunContext, path: ReadonlyArray<NodeDescriptor>, message: string) => {
  context.stderr.write(`attestation: ${message} (see '${commandLine(path)} --help')\n`)
  return ExitCode.usage
}

export const runCli = async (argv: ReadonlyArray<string>, context: RunContext): Promise<number> => {
  // `attestation help machine list` is `attestation machine list --help`.
  if (argv[0] === "help") return runCli([...argv.slice(1), "--help"], context)
  if (argv[0] === "__complete") {
    const found = candidates(context.tree, argv.slice(1))
    if (found.length > 0) context.stdout.write(`${found.join("\n")}\n`)
    return ExitCode.ok
  }
  const parsed = parse(context.tree, argv)
  switch (parsed.kind) {
    case "help":
      context.stdout.write(renderHelp(parsed.path, styleFor(context.stdout, context.env), context.version))
      return ExitCode.ok
    case "version":
      context.stdout.write(`${context.version}\n`)
      return ExitCode.ok
    case "usage":
      return usage(context, parsed.path, parsed.message)
  }
  const names = parsed.path.slice(1).map((node) => node.name)
  const spec = isNodeSpec(parsed.command) && parsed.command.kind === "command" ? parsed.command : await context.load(names)
  if (typeof spec === "string") return fail(context, spec)
  // A command may declare an option with a global's name (`webhook add --url <endpoint>`): on that command
  // the flag is the command's, and the global comes from its variable, the profile or its default.
  const own = new Set(parsed.command.options.map((o) => o.name))
  const globalValues = Object.fromEntries(Object.entries(parsed.values).filter(([name]) => !own.has(name)))
  const globals = resolveGlobals(globalValues, context.env, spec.savesProfile !== true)
  if (!globals.ok) return globals.usage ? usage(context, parsed.path, globals.message) : fail(context, globals.message)
  const bound = bindCommand(spec, parsed.values, parsed.positionals, context.env)
  if (!bound.ok) return usage(context, parsed.path, bound.message)

  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  try {
    const outcome = await spec.execute({ ...bound.value, globals: globals.value, signal: controller.signal })
    if (outcome.message !== undefined) {
      // A usage mistake the command found itself points to the help like those found by the parser.
      const pointer = outcome.exitCode === ExitCode.usage ? ` (see '${commandLine(parsed.path)} --help')` : ""
      context.stderr.write(`${outcome.message}${pointer}\n`)
    }
    return outcome.exitCode
  } finally {
    process.off("SIGINT", stop)
    process.off("SIGTERM", stop)
  }
}

const fail = (context: RunContext, message: string) => {
  context.stderr.write(`attestation: ${message}\n`)
  return ExitCode.error
}

type Resolved = { readonly ok: true; readonly value: RunnerGlobals } | { readonly ok: false; readonly usage: boolean; readonly message: string }

/** The globals: each flag, else its variable, else the profile (url and token), else the default. */
const resolveGlobals = (values: Readonly<Record<string, string | boolean>>, env: Environment, readProfile: boolean): Resolved => {
  const profileName = bindOption(globalOptions.profile, values, env)
  if (!profileName.ok) return { ok: false, usage: true, message: profileName.message }
  const named = profileName.value as string | undefined
  const profiles = readProfile ? readProfiles(env) : ({ ok: true, value: { file: "", profiles: {} } } as const)
  if (!profiles.ok) return { ok: false, usage: false, message: profiles.message }
  let profile: Profile | undefined
  if (named !== undefined && readProfile) {
    profile = profiles.value.profiles[named]
    if (profile === undefined) {
      return { ok: false, usage: false, message: `no profile named '${named}' in ${profiles.value.file}; create it with 'attestation login --profile ${named}'` }
    }
  } else profile = profiles.value.profiles.default
  const url = bindOption(globalOptions.url, values, env, profile?.url ?? DEFAULT_URL)
  if (!url.ok) return { ok: false, usage: true, message: url.message }
  const token = bindOption(globalOptions.token, values, env, profile?.token)
  if (!token.ok) return { ok: false, usage: true, message: token.message }
  const output = bindOption(globalOptions.output, values, env)
  if (!output.ok) return { ok: false, usage: true, message: output.message }
  const quiet = values.quiet === true
  if (quiet && output.value !== "id" && values.output !== undefined) {
    return { ok: false, usage: true, message: `-q prints only ids; it cannot be combined with -o ${String(values.output)}` }
  }
  const verbose = values.verbose === true
  return {
    ok: true,
    value: {
      url: (url.value as string).replace(/\/+$/, ""),
      token: (token.value as string | undefined)?.trim() === "" ? undefined : (token.value as string | undefined),
      output: quiet ? "id" : (output.value as OutputFormat),
      verbose,
      profile: named ?? "default"
    }
  }
}
