/**
 * `command` and `group`: how the CLI's commands, and those of extensions, are
 * defined. A handler is an Effect; `command` wraps it into the plain
 * `execute` the runner calls, run with this module's copy of Effect (an
 * extension's commands run on the copy the extension was built with).
 */
import { Effect, Exit } from "effect"
import { CliFailure, outcomeOf, SilentExit } from "../errors.js"
import { fromRunner, type Globals } from "../globals.js"
import type { ArgSpec, CommandSpec, Example, GroupSpec, NodeSpec, OptionSpec } from "./spec.js"

type ValueOf<S> = S extends OptionSpec<infer A> ? A : S extends ArgSpec<infer A> ? A : never

export interface CommandInput<O, A> {
  readonly options: { readonly [K in keyof O]: ValueOf<O[K]> }
  readonly args: { readonly [K in keyof A]: ValueOf<A[K]> }
  readonly globals: Globals
}

type NonEmpty<A> = readonly [A, ...Array<A>]

export interface CommandDefinition<O extends Record<string, OptionSpec<any>>, A extends Record<string, ArgSpec<any>>> {
  readonly name: string
  /** One line, no final period. */
  readonly summary: string
  readonly description?: string
  /** At least one: the reference and `--help` show them, and a test checks every command has one. */
  readonly examples: NonEmpty<Example>
  readonly options?: O
  /** Positional arguments, in order. */
  readonly args?: A
  readonly run: (input: CommandInput<O, A>) => Effect.Effect<void, CliFailure | SilentExit>
  /** @internal `attestation login`: see CommandSpec.savesProfile. */
  readonly savesProfile?: boolean
}

export const command = <O extends Record<string, OptionSpec<any>> = {}, A extends Record<string, ArgSpec<any>> = {}>(
  definition: CommandDefinition<O, A>
): CommandSpec => {
  const optionEntries = Object.entries(definition.options ?? {}) as Array<[string, OptionSpec]>
  const argEntries = Object.entries(definition.args ?? {}) as Array<[string, ArgSpec]>
  return {
    _tag: "AttestationCliCommand",
    kind: "command",
    name: definition.name,
    summary: definition.summary,
    ...(definition.description === undefined ? {} : { description: definition.description }),
    examples: definition.examples,
    ...(definition.savesProfile === true ? { savesProfile: true } : {}),
    options: optionEntries.map(([, spec]) => spec),
    args: argEntries.map(([, spec]) => spec),
    execute: async (invocation) => {
      // The runner keys values by option and argument name; the handler reads them by property.
      const options = Object.fromEntries(optionEntries.map(([key, spec]) => [key, invocation.options[spec.name]]))
      const args = Object.fromEntries(argEntries.map(([key, spec]) => [key, invocation.args[spec.name]]))
      const input = { options, args, globals: fromRunner(invocation.globals) } as CommandInput<O, A>
      const exit = await Effect.runPromiseExit(Effect.suspend(() => definition.run(input)), { signal: invocation.signal })
      return Exit.isSuccess(exit) ? { exitCode: 0 } : outcomeOf(exit.cause)
    }
  }
}

export interface GroupDefinition {
  readonly name: string
  readonly summary: string
  readonly description?: string
  readonly commands: NonEmpty<NodeSpec>
  readonly examples?: ReadonlyArray<Example>
}

/** A command that only groups others (`machine`, `operator token`, …); on its own it shows its help. */
export const group = (definition: GroupDefinition): GroupSpec => ({
  _tag: "AttestationCliGroup",
  kind: "group",
  name: definition.name,
  summary: definition.summary,
  ...(definition.description === undefined ? {} : { description: definition.description }),
  commands: definition.commands,
  examples: definition.examples ?? []
})
