/**
 * Extension commands, found the way the server finds extensions: every
 * installed package whose package.json declares
 * `"attestationCli": ["./dist/cli.js"]`, in the node_modules directories this
 * CLI's own dependencies resolve from (so a package installed beside the CLI,
 * locally or globally, is found wherever the command is run). A module that
 * fails to import, exports something else, or brings a command whose name is
 * taken is left out and reported in one line; the rest of the CLI works.
 */
import { Command } from "@effect/cli"
import { declarations } from "@itl-attestation/host-node/discovery"
import { Effect, HashSet } from "effect"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { messageOf, oneLine } from "./errors.js"
import { type CliExtension, isCliExtension } from "./extension.js"

type AnyCommand = Command.Command<any, any, any, any>

/** The node_modules directories this package's own imports resolve from, nearest first. */
export const searchPaths = (): ReadonlyArray<string> => createRequire(import.meta.url).resolve.paths("@itl-attestation/core") ?? []

export interface LoadedCliExtensions {
  readonly commands: ReadonlyArray<AnyCommand>
  readonly agentCommands: ReadonlyArray<AnyCommand>
  /** One line each: `attestation: cannot load the commands of <package>: <reason>`. */
  readonly problems: ReadonlyArray<string>
}

const nameOf = (command: AnyCommand): string => HashSet.values(Command.getNames(command)).next().value ?? ""

const importCliModule = (module: string) =>
  Effect.tryPromise({ try: () => import(pathToFileURL(module).href) as Promise<Record<string, unknown>>, catch: (error) => error }).pipe(
    Effect.flatMap((mod) =>
      isCliExtension(mod.default)
        ? Effect.succeed(mod.default)
        : Effect.fail(new Error("the module's default export was not made by defineCliExtension"))
    )
  )

/**
 * Loads every declared CLI module. `taken` and `takenAgent` are the names of
 * the CLI's own commands and agent commands, which an extension cannot replace.
 */
export const loadCliExtensions = (taken: ReadonlyArray<string>, takenAgent: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const top = new Set(taken)
    const agent = new Set(takenAgent)
    const commands: Array<AnyCommand> = []
    const agentCommands: Array<AnyCommand> = []
    const problems: Array<string> = []
    for (const { module, packageName } of declarations(searchPaths(), "attestationCli")) {
      const loaded = yield* Effect.either(importCliModule(module))
      if (loaded._tag === "Left") {
        problems.push(`attestation: cannot load the commands of ${packageName}: ${oneLine(messageOf(loaded.left))}`)
        continue
      }
      const extension: CliExtension = loaded.right
      const clashes = [
        ...(extension.commands ?? []).map(nameOf).filter((name) => top.has(name)),
        ...(extension.agentCommands ?? []).map(nameOf).filter((name) => agent.has(name)).map((name) => `agent ${name}`)
      ]
      if (clashes.length > 0) {
        problems.push(`attestation: cannot load the commands of ${packageName}: command ${clashes.join(", ")} already exists`)
        continue
      }
      for (const command of extension.commands ?? []) {
        top.add(nameOf(command))
        commands.push(command)
      }
      for (const command of extension.agentCommands ?? []) {
        agent.add(nameOf(command))
        agentCommands.push(command)
      }
    }
    return { commands, agentCommands, problems } satisfies LoadedCliExtensions
  })
