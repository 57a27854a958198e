/**
 * The shape of a command tree. A *descriptor* is what help, completion and
 * the generated reference need (plain data, cacheable as JSON); a *spec* adds
 * what running needs: each option's parser and the command's `execute`.
 *
 * The boundary between the CLI's runner and a command is plain JavaScript and
 * a Promise, never an Effect value: an extension's commands are built with
 * its own copy of the SDK (and of Effect), and run with that copy's runtime.
 */

/** How an option takes its value; `boolean` options take none. */
export type OptionKind = "text" | "integer" | "choice" | "list" | "boolean"

export interface OptionDescriptor {
  /** `status` for `--status`. */
  readonly name: string
  /** One letter: `o` for `-o`. */
  readonly short?: string
  readonly kind: OptionKind
  /** Shown after the flag in help: `--status STATUS`. */
  readonly placeholder: string
  readonly description: string
  readonly choices?: ReadonlyArray<string>
  /** The environment variable read when the flag is absent. */
  readonly env?: string
  /** The default, as shown in help. */
  readonly default?: string
  readonly required: boolean
  /** A credential: never shown, logged or echoed back. */
  readonly secret?: boolean
}

export interface ArgDescriptor {
  readonly name: string
  readonly description: string
  readonly optional: boolean
}

export interface Example {
  /** The whole command line, starting with `attestation`. */
  readonly command: string
  /** What it does, one line. */
  readonly description: string
}

export interface CommandDescriptor {
  readonly kind: "command"
  readonly name: string
  /** One line, no final period: what the command does. */
  readonly summary: string
  /** More paragraphs for `--help` and the reference, if the summary is not enough. */
  readonly description?: string
  readonly options: ReadonlyArray<OptionDescriptor>
  readonly args: ReadonlyArray<ArgDescriptor>
  readonly examples: ReadonlyArray<Example>
}

export interface GroupDescriptor {
  readonly kind: "group"
  readonly name: string
  readonly summary: string
  readonly description?: string
  readonly commands: ReadonlyArray<NodeDescriptor>
  readonly examples: ReadonlyArray<Example>
}

export type NodeDescriptor = CommandDescriptor | GroupDescriptor

/** A value parsed from the command line, or why it is not acceptable (without the flag's name: the runner adds it). */
export type Parsed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly message: string }

export interface OptionSpec<A = unknown> extends OptionDescriptor {
  /** The raw text (or `true` for a boolean flag), or undefined when neither the flag nor its variable is set. */
  readonly parse: (raw: string | boolean | undefined) => Parsed<A>
}

export interface ArgSpec<A = unknown> extends ArgDescriptor {
  readonly parse: (raw: string | undefined) => Parsed<A>
}

/** What the runner hands to a command: every global, already resolved (flag, then environment, then profile). */
export interface RunnerGlobals {
  readonly url: string
  readonly token: string | undefined
  readonly output: OutputFormat
  readonly verbose: boolean
  /** The profile asked for (--profile, ITL_PROFILE), else `default`. */
  readonly profile: string
}

export type OutputFormat = "table" | "json" | "yaml" | "id"

export interface Invocation {
  readonly options: Readonly<Record<string, unknown>>
  readonly args: Readonly<Record<string, unknown>>
  readonly globals: RunnerGlobals
  /** Aborted on SIGINT/SIGTERM: the command stops and the CLI exits 130. */
  readonly signal: AbortSignal
}

/** How a command ended: the exit code, and the one line for stderr if any. */
export interface Outcome {
  readonly exitCode: number
  readonly message?: string
}

export interface CommandSpec extends CommandDescriptor {
  readonly _tag: "AttestationCliCommand"
  /** `attestation login`: the saved profile is what it writes, so none is read (and a new name is no error). */
  readonly savesProfile?: boolean
  readonly options: ReadonlyArray<OptionSpec>
  readonly args: ReadonlyArray<ArgSpec>
  readonly execute: (invocation: Invocation) => Promise<Outcome>
}

export interface GroupSpec extends GroupDescriptor {
  readonly _tag: "AttestationCliGroup"
  readonly commands: ReadonlyArray<NodeSpec>
}

export type NodeSpec = CommandSpec | GroupSpec

/** The plain-data view of a tree, for help, completion, the reference, and the cache of extension commands. */
export const describeNode = (node: NodeDescriptor): NodeDescriptor =>
  node.kind === "group"
    ? {
        kind: "group",
        name: node.name,
        summary: node.summary,
        ...(node.description === undefined ? {} : { description: node.description }),
        commands: node.commands.map(describeNode),
        examples: node.examples.map(({ command, description }) => ({ command, description }))
      }
    : {
        kind: "command",
        name: node.name,
        summary: node.summary,
        ...(node.description === undefined ? {} : { description: node.description }),
        options: node.options.map(describeOption),
        args: node.args.map(({ name, description, optional }) => ({ name, description, optional })),
        examples: node.examples.map(({ command, description }) => ({ command, description }))
      }

const describeOption = (option: OptionDescriptor): OptionDescriptor => {
  const { name, short, kind, placeholder, description, choices, env, required, secret } = option
  return {
    name,
    kind,
    placeholder,
    description,
    required,
    ...(short === undefined ? {} : { short }),
    ...(choices === undefined ? {} : { choices: [...choices] }),
    ...(env === undefined ? {} : { env }),
    ...(option.default === undefined ? {} : { default: option.default }),
    ...(secret === undefined ? {} : { secret })
  }
}

export const isNodeSpec = (value: unknown): value is NodeSpec =>
  typeof value === "object" &&
  value !== null &&
  ((value as { _tag?: unknown })._tag === "AttestationCliCommand" || (value as { _tag?: unknown })._tag === "AttestationCliGroup")
