/**
 * A module-resolution hook (node:module `register`), loaded off the main
 * thread by sharedModules.ts. It resolves the packages an extension must share
 * with the host (the core and Effect) from the core's own location, so that an
 * extension installed in a node_modules of its own — `npm install -g` gives
 * every top-level package one, with its own copy of each peer dependency —
 * still runs on the host's single copy.
 */

interface HookData {
  /** Package names resolved from the host (`effect` also covers `effect/Schema`). */
  readonly names: ReadonlyArray<string>
  /** Module URLs to resolve them from, in order (the core's, then host-node's). */
  readonly parents: ReadonlyArray<string>
}

type Resolved = { url: string; format?: string | null; shortCircuit?: boolean }
type NextResolve = (specifier: string, context: { parentURL?: string | undefined; conditions?: ReadonlyArray<string> }) => Promise<Resolved>

let shared: HookData = { names: [], parents: [] }

export const initialize = (data: HookData) => {
  shared = data
}

const packageOf = (specifier: string) => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

export const resolve = async (
  specifier: string,
  context: { parentURL?: string | undefined; conditions?: ReadonlyArray<string> },
  nextResolve: NextResolve
): Promise<Resolved> => {
  if (context.parentURL !== undefined && shared.names.includes(packageOf(specifier))) {
    for (const parentURL of shared.parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL })
      } catch {
        // Not resolvable from this parent: try the next, then the importer's own copy.
      }
    }
  }
  return nextResolve(specifier, context)
}
