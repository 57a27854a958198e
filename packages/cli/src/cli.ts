/** The `attestation` command tree and its runner. */
import { type CliApp, Command } from "@effect/cli"
import { Effect } from "effect"
import { createRequire } from "node:module"
import { agentCommand } from "./commands/agent.js"
import { auditCommand } from "./commands/audit.js"
import { extensionsCommand } from "./commands/extensions.js"
import { keyringCommand } from "./commands/keyring.js"
import { machineCommand } from "./commands/machine.js"
import { operatorCommand } from "./commands/operator.js"
import { serveCommand } from "./commands/serve.js"
import { loadCliExtensions } from "./discovery.js"
import { root } from "./globals.js"
import { explainMismatch, registerChildren } from "./usage.js"

// dist/cli.js sits one level below package.json, as src/cli.ts does.
const { version } = createRequire(import.meta.url)("../package.json") as { version: string }

type AnyCommand = Command.Command<any, any, any, any>

const core = [serveCommand, extensionsCommand, machineCommand, operatorCommand, auditCommand, keyringCommand] as const

/** The full tree: the core's commands, then those of extensions (their top-level ones, and theirs under `agent`). */
export const makeCommand = (extensions: { readonly commands: ReadonlyArray<AnyCommand>; readonly agentCommands: ReadonlyArray<AnyCommand> } = { commands: [], agentCommands: [] }) => {
  const subcommands = [...core, agentCommand(extensions.agentCommands), ...extensions.commands] as const
  const command = root.pipe(Command.withDescription("Operate an ITL attestation server, or run one"), Command.withSubcommands(subcommands))
  registerChildren(command, subcommands)
  return command
}

/** The names an extension's commands may not take. */
const CORE_NAMES = ["serve", "extensions", "machine", "operator", "audit", "keyring", "agent"]
const AGENT_NAMES = ["enroll", "attest", "status"]

/**
 * Runs the CLI on `process.argv`-shaped arguments (`node`, script, then the
 * user's words), with the commands of every installed extension; an extension
 * whose commands cannot be loaded is reported in one line on stderr first.
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<void, unknown, CliApp.CliApp.Environment> =>
  Effect.gen(function* () {
    const extensions = yield* loadCliExtensions(CORE_NAMES, AGENT_NAMES)
    if (extensions.problems.length > 0) yield* Effect.sync(() => process.stderr.write(extensions.problems.map((line) => `${line}\n`).join("")))
    const command = makeCommand(extensions)
    // Extension commands are typed `any`: what they need is what every command gets (CliApp.Environment).
    return yield* (Command.run(command, { name: "attestation", version })(argv) as Effect.Effect<void, unknown, CliApp.CliApp.Environment>).pipe(
      Effect.mapError(explainMismatch(command, argv.slice(2)))
    )
  })
