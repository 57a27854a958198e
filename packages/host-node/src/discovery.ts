/**
 * Which extensions host-node loads: the built-ins it is given, every installed
 * npm package whose package.json declares `"attestationExtensions": ["./dist/x.js"]`
 * (the analog of a Python entry-point group), and any module named in
 * ITL_EXTENSIONS; minus those named in ITL_DISABLED_EXTENSIONS. A module that
 * fails to import is reported like an extension that fails to build.
 */
import type { Extension, ExtensionFailure } from "@itl-attestation/core"
import { describeFailure, isExtension } from "@itl-attestation/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

export interface Discovered {
  readonly extensions: ReadonlyArray<Extension>
  readonly failures: ReadonlyArray<ExtensionFailure>
}

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

/** Modules declared by installed packages, found by reading node_modules under `root`. */
export const declaredModules = (root: string, field = "attestationExtensions"): Array<string> =>
  modulesDeclaredIn([path.join(root, "node_modules")], field)

/** `SyntaxError: Unexpected identifier 'oops'`: the class says what kind of problem it is; a plain `Error:` adds nothing. */
const importError = (error: unknown) => {
  const reason = describeFailure(error)
  return error instanceof Error && error.name !== "Error" && !reason.startsWith(error.name) ? `${error.name}: ${reason}` : reason
}

const importModule = (specifier: string) => {
  const isPath = specifier.startsWith(".") || path.isAbsolute(specifier)
  const target = isPath ? pathToFileURL(path.resolve(specifier)).href : specifier
  const shown = isPath ? path.resolve(specifier) : specifier
  // The module's own error, with where it was imported from: not Effect's UnknownException around it.
  return Effect.tryPromise({ try: () => import(target), catch: (error) => new Error(`cannot import ${shown}: ${importError(error)}`) }).pipe(
    Effect.flatMap((mod) => {
      const candidate = mod.default ?? mod.extension
      return isExtension(candidate)
        ? Effect.succeed(candidate as Extension)
        : Effect.fail(new Error(`${shown} does not export an extension made by defineExtension (default export or \`extension\`)`))
    })
  )
}

/** The name under which a module's failure is reported: the package that declares it, or the module as named. */
const loadModule = (specifier: string, label: string) =>
  importModule(specifier).pipe(Effect.mapError((error) => ({ name: label, reason: describeFailure(error) })))

export const discoverExtensions = (options: {
  readonly builtins: ReadonlyArray<Extension>
  readonly modules: ReadonlyArray<string>
  readonly disabled: ReadonlyArray<string>
  readonly root: string
  /** More node_modules directories to read (the CLI passes those its own dependencies resolve from). */
  readonly searchPaths?: ReadonlyArray<string>
}) =>
  Effect.gen(function* () {
    const failures: Array<ExtensionFailure> = []
    const found: Array<Extension> = [...options.builtins]
    const declared = declarations([path.join(options.root, "node_modules"), ...(options.searchPaths ?? [])], "attestationExtensions")
    const modules = [
      ...declared.map((d) => ({ specifier: d.module, label: d.packageName })),
      ...options.modules.map((specifier) => ({ specifier, label: specifier }))
    ]
    for (const { specifier, label } of modules) {
      const result = yield* Effect.either(loadModule(specifier, label))
      if (result._tag === "Left") failures.push(result.left)
      else found.push(result.right)
    }
    const seen = new Set<string>()
    const extensions: Array<Extension> = []
    for (const extension of found) {
      if (options.disabled.includes(extension.name)) continue
      if (seen.has(extension.name)) {
        failures.push({ name: extension.name, reason: "another extension with the same name is already loaded" })
        continue
      }
      seen.add(extension.name)
      extensions.push(extension)
    }
    return { extensions, failures } satisfies Discovered
  })
