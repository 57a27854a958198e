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
 * The list of declaring packages is cached too (scanning every package.json of
 * node_modules costs more than the rest of `--help`). ITL_CLI_NO_CACHE=1 turns
 * both off.
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

const FORMAT = 2

export interface Declared {
  readonly module: string
  readonly packageName: string
}

interface DeclarationsEntry {
  readonly key: string
  readonly stamp: string
  readonly list: ReadonlyArray<Declared>
}

/**
 * What changes when a package is installed or removed: the modification time
 * of each node_modules directory and of its @scope directories (npm adds,
 * replaces or removes a package's directory in one of them), and of each
 * declaring package's package.json (a linked workspace package edited in place).
 */
const declarationsStamp = (dirs: ReadonlyArray<string>, list: ReadonlyArray<Declared> | undefined) => {
  const parts: Array<string> = []
  for (const dir of dirs) {
    try {
      parts.push(`${dir}:${fs.statSync(dir).mtimeMs}`)
      for (const entry of fs.readdirSync(dir)) {
        if (entry.startsWith("@")) parts.push(`${entry}:${fs.statSync(path.join(dir, entry)).mtimeMs}`)
      }
    } catch {
      parts.push(`${dir}:-`)
    }
  }
  for (const declared of list ?? []) {
    try {
      parts.push(`${declared.module}:${fs.statSync(declared.module).mtimeMs}`)
    } catch {
      parts.push(`${declared.module}:-`)
    }
  }
  return parts.join("|")
}

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
  const disabled = (env.ITL_CLI_NO_CACHE ?? "") !== ""
  let entries: Record<string, Entry> = {}
  let declared: DeclarationsEntry | undefined
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { format?: unknown; modules?: unknown; declarations?: DeclarationsEntry }
    if (!disabled && parsed.format === FORMAT && typeof parsed.modules === "object" && parsed.modules !== null) {
      entries = parsed.modules as Record<string, Entry>
      declared = parsed.declarations
    }
  } catch {
    // No cache yet, or an unreadable one: it is rebuilt.
  }
  let changed = false
  return {
    /** The declared modules in `dirs`: from the cache while no package was installed or removed there, else from `scan`. */
    declarations: (dirs: ReadonlyArray<string>, scan: () => ReadonlyArray<Declared>): ReadonlyArray<Declared> => {
      const key = dirs.join("\n")
      if (declared !== undefined && declared.key === key && Array.isArray(declared.list) && declared.stamp === declarationsStamp(dirs, declared.list)) {
        return declared.list
      }
      const list = scan().map(({ module, packageName }) => ({ module, packageName }))
      declared = { key, stamp: declarationsStamp(dirs, list), list }
      changed = true
      return list
    },
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
      if (!changed || disabled) return
      changed = false
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
        const temporary = `${file}.${process.pid}.tmp`
        fs.writeFileSync(temporary, JSON.stringify({ format: FORMAT, declarations: declared, modules: entries }))
        fs.renameSync(temporary, file)
      } catch {
        // Not cached this time.
      }
    }
  }
}
