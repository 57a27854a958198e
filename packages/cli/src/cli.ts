/** The `attestation` command tree, with the commands of installed extensions, and its runner. */
import { agentCommand } from "./commands/agent.js"
import { auditCommand } from "./commands/audit.js"
import { completionCommand } from "./commands/completion.js"
import { extensionsCommand } from "./commands/extensions.js"
import { keyringCommand } from "./commands/keyring.js"
import { loginCommands } from "./commands/login.js"
import { machineCommand } from "./commands/machine.js"
import { operatorCommand } from "./commands/operator.js"
import { serveCommand } from "./commands/serve.js"
import { loadCliExtensions } from "./discovery.js"
import type { Environment } from "./framework/bind.js"
import { runCli, type Stream } from "./framework/run.js"
import type { GroupDescriptor, NodeDescriptor } from "./framework/spec.js"
import { VERSION } from "./version.js"

const core = [serveCommand, extensionsCommand, machineCommand, operatorCommand, auditCommand, keyringCommand] as const
const local = [...loginCommands, completionCommand] as const

/** The names an extension's commands may not take. */
const CORE_NAMES = [...core, ...local].map((c) => c.name).concat("agent")
const AGENT_NAMES = ["enroll", "attest", "status"]

/** The whole tree: the core's commands, then those of extensions (their top-level ones, and theirs under `agent`). */
export const makeTree = (extensions: { readonly commands: ReadonlyArray<NodeDescriptor>; readonly agentCommands: ReadonlyArray<NodeDescriptor> }): GroupDescriptor => ({
  kind: "group",
  name: "attestation",
  summary: "Operate an ITL attestation server, or run one",
  commands: [...core, agentCommand(extensions.agentCommands), ...extensions.commands, ...local],
  examples: [
    { command: "attestation login --url https://attest.example.com < admin-token", description: "Save the server and token once" },
    { command: "attestation machine list --status pending_approval", description: "Machines waiting for approval" },
    { command: "attestation machine approve $(attestation machine list --hostname node-1 -o id)", description: "Approve a machine by hostname" }
  ]
})

export interface Io {
  readonly env: Environment
  readonly stdout: Stream
  readonly stderr: Stream
}

/** The whole tree with the commands of the extensions installed beside this CLI, and what could not be loaded. */
export const loadTree = async (env: Environment) => {
  const extensions = await loadCliExtensions(CORE_NAMES, AGENT_NAMES, env, VERSION)
  return { tree: makeTree(extensions), load: extensions.load, problems: extensions.problems }
}

/** Runs the CLI on the user's words (argv without `node` and the script); resolves to the exit code. */
export const run = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { tree, load, problems } = await loadTree(io.env)
  // Completion must stay quiet: a broken extension is reported on the next real command.
  if (problems.length > 0 && argv[0] !== "__complete") io.stderr.write(problems.map((line) => `${line}\n`).join(""))
  return runCli(argv, { version: VERSION, tree, load, ...io })
}
