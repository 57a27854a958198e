/**
 * `import()` for modules outside the bundle (host-node for `serve`, extension
 * command modules). The bundle runs inside a vm.Script (bin.ts), where a bare
 * `import()` has no loader; bin.ts hands its own `import()` over under this
 * key. Run unbundled (dist/main.js), the native one is used.
 */
const KEY = Symbol.for("@itl-attestation/cli/import")

type Importer = (specifier: string) => Promise<Record<string, unknown>>

export const dynamicImport = <A = Record<string, unknown>>(specifier: string): Promise<A> => {
  const given = (globalThis as Record<symbol, Importer | undefined>)[KEY]
  return (given ?? ((s: string) => import(s) as Promise<Record<string, unknown>>))(specifier) as Promise<A>
}

export const IMPORTER_KEY = KEY
