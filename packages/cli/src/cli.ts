/** The `attestation` command tree and its runner. */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import { createRequire } from "node:module"
import { agentCommand } from "./commands/agent.js"
import { auditCommand } from "./commands/audit.js"
import { extensionsCommand } from "./commands/extensions.js"
import { keyringCommand } from "./commands/keyring.js"
import { machineCommand } from "./commands/machine.js"
import { operatorCommand } from "./commands/operator.js"
import { secretCommand } from "./commands/secret.js"
import { serveCommand } from "./commands/serve.js"
import { sharedSecretCommand } from "./commands/sharedSecret.js"
import { root } from "./globals.js"
import { explainMismatch, registerChildren } from "./usage.js"

// dist/cli.js sits one level below package.json, as src/cli.ts does.
const { version } = createRequire(import.meta.url)("../package.json") as { version: string }

const subcommands = [
  serveCommand,
  extensionsCommand,
  machineCommand,
  operatorCommand,
  auditCommand,
  secretCommand,
  sharedSecretCommand,
  keyringCommand,
  agentCommand
] as const

export const command = root.pipe(
  Command.withDescription("Operate an ITL attestation server, or run one"),
  Command.withSubcommands(subcommands)
)
registerChildren(command, subcommands)

const runCommand = Command.run(command, { name: "attestation", version })

/** Runs the CLI on `process.argv`-shaped arguments (`node`, script, then the user's words). */
export const run = (argv: ReadonlyArray<string>) =>
  runCommand(argv).pipe(Effect.mapError(explainMismatch(command, argv.slice(2))))
