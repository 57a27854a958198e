/**
 * Which installed packages declare modules for the platform: read from their
 * package.json alone (node:fs, nothing else), so that the CLI can find
 * extension commands without loading the server.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Modules declared under `field` (`attestationExtensions` for the server,
 * `attestationCli` for the CLI) by the packages installed in the given
 * node_modules directories. A package reachable from several directories
 * (a workspace link, a parent directory) counts once, by its real path.
 */
export const modulesDeclaredIn = (nodeModulesDirs: ReadonlyArray<string>, field = "attestationExtensions"): Array<string> =>
  declarations(nodeModulesDirs, field).map((d) => d.module)

/** A declared module and the package that declares it (the name its failures are reported under). */
export interface Declaration {
  readonly module: string
  readonly packageName: string
}

export const declarations = (nodeModulesDirs: ReadonlyArray<string>, field: string): Array<Declaration> => {
  const packageDirs: Array<string> = []
  for (const nodeModules of nodeModulesDirs) {
    if (!fs.existsSync(nodeModules)) continue
    for (const entry of fs.readdirSync(nodeModules)) {
      if (entry.startsWith(".")) continue
      const dir = path.join(nodeModules, entry)
      if (entry.startsWith("@")) {
        for (const scoped of fs.readdirSync(dir)) packageDirs.push(path.join(dir, scoped))
      } else packageDirs.push(dir)
    }
  }
  const seen = new Set<string>()
  const modules: Array<Declaration> = []
  for (const dir of packageDirs) {
    const manifest = path.join(dir, "package.json")
    if (!fs.existsSync(manifest)) continue
    let real: string
    try {
      real = fs.realpathSync(dir)
    } catch {
      continue
    }
    if (seen.has(real)) continue
    seen.add(real)
    try {
      const parsed = JSON.parse(fs.readFileSync(manifest, "utf8"))
      const declared = parsed[field]
      const packageName = typeof parsed.name === "string" ? parsed.name : path.basename(dir)
      if (Array.isArray(declared)) for (const m of declared) if (typeof m === "string") modules.push({ module: path.resolve(real, m), packageName })
    } catch {
      // An unreadable manifest belongs to some other package; not ours to report.
    }
  }
  return modules
}

