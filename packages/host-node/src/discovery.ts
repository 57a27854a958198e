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

/** Modules declared by installed packages, found by reading node_modules under `root`. */
export const declaredModules = (root: string): Array<string> => {
  const nodeModules = path.join(root, "node_modules")
  if (!fs.existsSync(nodeModules)) return []
  const packageDirs: Array<string> = []
  for (const entry of fs.readdirSync(nodeModules)) {
    if (entry.startsWith(".")) continue
    const dir = path.join(nodeModules, entry)
    if (entry.startsWith("@")) {
      for (const scoped of fs.readdirSync(dir)) packageDirs.push(path.join(dir, scoped))
    } else packageDirs.push(dir)
  }
  const modules: Array<string> = []
  for (const dir of packageDirs) {
    const manifest = path.join(dir, "package.json")
    if (!fs.existsSync(manifest)) continue
    try {
      const declared = JSON.parse(fs.readFileSync(manifest, "utf8")).attestationExtensions
      if (Array.isArray(declared)) for (const m of declared) if (typeof m === "string") modules.push(path.resolve(dir, m))
    } catch {
      // An unreadable manifest belongs to some other package; not ours to report.
    }
  }
  return modules
}

const importModule = (specifier: string) => {
  const target = specifier.startsWith(".") || path.isAbsolute(specifier)
    ? pathToFileURL(path.resolve(specifier)).href
    : specifier
  return Effect.tryPromise(() => import(target))
}

/** The name under which a module's failure is reported: its extension name if known, else the module. */
const loadModule = (specifier: string) =>
  importModule(specifier).pipe(
    Effect.flatMap((mod) => {
      const candidate = mod.default ?? mod.extension
      return isExtension(candidate)
        ? Effect.succeed(candidate)
        : Effect.fail(new Error("the module does not export an extension made by defineExtension (default export or `extension`)"))
    }),
    Effect.mapError((error) => ({ name: specifier, reason: describeFailure(error instanceof Error ? error : (error as { error?: unknown }).error ?? error) }))
  )

export const discoverExtensions = (options: {
  readonly builtins: ReadonlyArray<Extension>
  readonly modules: ReadonlyArray<string>
  readonly disabled: ReadonlyArray<string>
  readonly root: string
}) =>
  Effect.gen(function* () {
    const failures: Array<ExtensionFailure> = []
    const found: Array<Extension> = [...options.builtins]
    for (const specifier of [...declaredModules(options.root), ...options.modules]) {
      const result = yield* Effect.either(loadModule(specifier))
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
