/**
 * Extension commands, found the way the server finds extensions: every
 * installed package whose package.json declares
 * `"attestationCli": ["./dist/cli.js"]`, in the node_modules directories this
 * CLI's own dependencies resolve from (so a package installed beside the CLI,
 * locally or globally, is found wherever the command is run).
 *
 * Importing a module costs far more than the rest of a run (it loads its own
 * copy of Effect), so what help and completion need of its commands is kept
 * in a cache (commandCache.ts) and the module is imported only when one of
 * its commands runs. A module that fails to import, exports something else,
 * or brings a command whose name is taken is left out and reported in one
 * line; the rest of the CLI works.
 */
import { declarations } from "@itl-attestation/host-node/declarations"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { requireWithCodeCache } from "./codeCache.js"
import { type CachedModule, openCommandCache } from "./commandCache.js"
import { dynamicImport } from "./dynamicImport.js"
import { messageOf, oneLine } from "./errors.js"
import { isCliExtension } from "./extension.js"
import type { Environment } from "./framework/bind.js"
import { type CommandSpec, describeNode, isNodeSpec, type NodeDescriptor, type NodeSpec } from "./framework/spec.js"

/** The node_modules directories this package's own imports resolve from, nearest first. */
export const searchPaths = (): ReadonlyArray<string> => createRequire(import.meta.url).resolve.paths("@itl-attestation/core") ?? []

export interface CliExtensions {
  /** Top-level commands: the module's own specs once imported, else their cached descriptors. */
  readonly commands: ReadonlyArray<NodeDescriptor>
  readonly agentCommands: ReadonlyArray<NodeDescriptor>
  /** One line each: `attestation: cannot load the commands of <package> (<module>): <reason>`. */
  readonly problems: ReadonlyArray<string>
  /** The runnable spec at `path` (`["secret", "get"]`, `["agent", "secret", "get"]`), importing its module if needed. */
  readonly load: (path: ReadonlyArray<string>) => Promise<CommandSpec | string>
}

interface Imported {
  readonly name: string
  readonly commands: ReadonlyArray<NodeSpec>
  readonly agentCommands: ReadonlyArray<NodeSpec>
}

/** An ES module is imported; a CommonJS bundle (`.cjs`) is loaded with the code cache, as the CLI's own bundle is. */
const importModule = async (module: string): Promise<Imported> => {
  const loaded = module.endsWith(".cjs") ? (requireWithCodeCache(module) as Record<string, unknown>) : await dynamicImport(pathToFileURL(module).href)
  const extension = loaded.default
  if (!isCliExtension(extension)) throw new Error("its default export was not made by defineCliExtension of @itl-attestation/cli/sdk")
  const all = [...(extension.commands ?? []), ...(extension.agentCommands ?? [])]
  if (!all.every(isNodeSpec)) {
    throw new Error("its commands were not made by command() or group() of @itl-attestation/cli/sdk (built for an older CLI?)")
  }
  return { name: extension.name, commands: extension.commands ?? [], agentCommands: extension.agentCommands ?? [] }
}

const nodeAt = (nodes: ReadonlyArray<NodeSpec>, path: ReadonlyArray<string>): NodeSpec | undefined => {
  let current: NodeSpec | undefined = nodes.find((n) => n.name === path[0])
  for (const name of path.slice(1)) current = current?.kind === "group" ? current.commands.find((n) => n.name === name) : undefined
  return current
}

/**
 * Finds every declared module. `taken` and `takenAgent` are the names of the
 * CLI's own commands and agent commands, which an extension cannot replace.
 */
export const loadCliExtensions = async (
  taken: ReadonlyArray<string>,
  takenAgent: ReadonlyArray<string>,
  env: Environment,
  cliVersion: string
): Promise<CliExtensions> => {
  const top = new Set(taken)
  const agent = new Set(takenAgent)
  const commands: Array<NodeDescriptor> = []
  const agentCommands: Array<NodeDescriptor> = []
  const problems: Array<string> = []
  const owners = new Map<string, string>()
  const imported = new Map<string, Imported>()
  const cache = openCommandCache(env, cliVersion)

  const dirs = searchPaths()
  for (const { module, packageName } of cache.declarations(dirs, () => declarations(dirs, "attestationCli"))) {
    let entry: CachedModule | undefined = cache.get(module)
    if (entry === undefined) {
      try {
        const loaded = await importModule(module)
        imported.set(module, loaded)
        entry = { name: loaded.name, commands: loaded.commands.map(describeNode), agentCommands: loaded.agentCommands.map(describeNode) }
        cache.set(module, entry)
      } catch (error) {
        problems.push(`attestation: cannot load the commands of ${packageName} (${module}): ${oneLine(messageOf(error))}`)
        continue
      }
    }
    const clashes = [
      ...entry.commands.map((c) => c.name).filter((name) => top.has(name)),
      ...entry.agentCommands.map((c) => c.name).filter((name) => agent.has(name)).map((name) => `agent ${name}`)
    ]
    if (clashes.length > 0) {
      problems.push(`attestation: cannot load the commands of ${packageName} (${module}): command ${clashes.join(", ")} already exists`)
      continue
    }
    const specs = imported.get(module)
    for (const [i, descriptor] of entry.commands.entries()) {
      top.add(descriptor.name)
      owners.set(descriptor.name, module)
      commands.push(specs?.commands[i] ?? descriptor)
    }
    for (const [i, descriptor] of entry.agentCommands.entries()) {
      agent.add(descriptor.name)
      owners.set(`agent ${descriptor.name}`, module)
      agentCommands.push(specs?.agentCommands[i] ?? descriptor)
    }
  }
  cache.save()

  const load = async (path: ReadonlyArray<string>): Promise<CommandSpec | string> => {
    const agentPath = path[0] === "agent"
    const module = owners.get(agentPath ? `agent ${path[1]}` : path[0]!)
    if (module === undefined) return `no command ${path.join(" ")}`
    let loaded = imported.get(module)
    if (loaded === undefined) {
      try {
        loaded = await importModule(module)
      } catch (error) {
        return `cannot load the commands of ${module}: ${oneLine(messageOf(error))}`
      }
      imported.set(module, loaded)
    }
    const node = agentPath ? nodeAt(loaded.agentCommands, path.slice(1)) : nodeAt(loaded.commands, path)
    if (node?.kind !== "command") {
      cache.forget(module)
      cache.save()
      return `the commands of ${module} changed since they were cached; run the command again`
    }
    return node
  }
  return { commands, agentCommands, problems, load }
}
