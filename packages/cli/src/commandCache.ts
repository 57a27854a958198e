/**
 * What help and completion need of extension commands (their descriptors),
 * kept between runs in `$XDG_CACHE_HOME/itl-attestation/cli-commands.json`
 * (default `~/.cache/…`), so that `attestation --help` does not import every
 * extension module. An entry is valid for one CLI version and one state of
 * the module's directory (the total size and newest modification time of the
 * .js files in it and below, since a command may live in any of them: a
 * rebuild rewrites only what changed); anything else, or a file
 * that cannot be read or written, just means importing the module. Only text
 * is cached, never code: the modules themselves always come from node_modules.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Environment } from "./framework/bind.js"
import type { NodeDescriptor } from "./framework/spec.js"

export interface CachedModule {
  readonly name: string
  readonly commands: ReadonlyArray<NodeDescriptor>
  readonly agentCommands: ReadonlyArray<NodeDescriptor>
}

interface Entry extends CachedModule {
  readonly cli: string
  readonly size: number
  readonly mtimeMs: number
}

const FORMAT = 1

export const cacheFile = (env: Environment) => {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : path.join(env.HOME ?? os.homedir(), ".cache")
  return path.join(base, "itl-attestation", "cli-commands.json")
}

const MAX_FILES = 5000

const stamp = (module: string) => {
  let size = 0
  let mtimeMs = 0
  let files = 0
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (++files > MAX_FILES) return
      const full = path.join(dir, entry.name)
      if (entry.isDirectory() && entry.name !== "node_modules") visit(full)
      else if (entry.isFile() && /\.(m|c)?js$/.test(entry.name)) {
        const stat = fs.statSync(full)
        size += stat.size
        mtimeMs = Math.max(mtimeMs, stat.mtimeMs)
      }
    }
  }
  try {
    fs.statSync(module)
    visit(path.dirname(module))
    return { size, mtimeMs }
  } catch {
    return undefined
  }
}

export const openCommandCache = (env: Environment, cliVersion: string) => {
  const file = cacheFile(env)
  let entries: Record<string, Entry> = {}
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { format?: unknown; modules?: unknown }
    if (parsed.format === FORMAT && typeof parsed.modules === "object" && parsed.modules !== null) entries = parsed.modules as Record<string, Entry>
  } catch {
    // No cache yet, or an unreadable one: it is rebuilt.
  }
  let changed = false
  return {
    get: (module: string): CachedModule | undefined => {
      const entry = entries[module]
      const now = stamp(module)
      if (entry === undefined || now === undefined || entry.cli !== cliVersion || entry.size !== now.size || entry.mtimeMs !== now.mtimeMs) return undefined
      if (!Array.isArray(entry.commands) || !Array.isArray(entry.agentCommands)) return undefined
      return entry
    },
    set: (module: string, value: CachedModule) => {
      const now = stamp(module)
      if (now === undefined) return
      entries[module] = { ...value, cli: cliVersion, ...now }
      changed = true
    },
    forget: (module: string) => {
      delete entries[module]
      changed = true
    },
    /** Best effort: a read-only home just means no cache. Written whole to a temporary file, then renamed. */
    save: () => {
      if (!changed) return
      changed = false
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
        const temporary = `${file}.${process.pid}.tmp`
        fs.writeFileSync(temporary, JSON.stringify({ format: FORMAT, modules: entries }))
        fs.renameSync(temporary, file)
      } catch {
        // Not cached this time.
      }
    }
  }
}
