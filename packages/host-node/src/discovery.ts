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
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { declarations, modulesDeclaredIn } from "./declarations.js"
import { shareHostModules } from "./sharedModules.js"

export { type Declaration, declarations, modulesDeclaredIn } from "./declarations.js"

export interface Discovered {
  readonly extensions: ReadonlyArray<Extension>
  readonly failures: ReadonlyArray<ExtensionFailure>
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
  return Effect.tryPromise({
    try: () => {
      shareHostModules()
      return import(target)
    },
    catch: (error) => new Error(`cannot import ${shown}: ${importError(error)}`)
  }).pipe(
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
