/**
 * One copy of the core and of Effect in the process, whatever the layout of
 * node_modules. An extension declares them as peer dependencies, but
 * `npm install -g @itl-attestation/cli @itl-attestation/metrics` gives each
 * top-level package its own node_modules with its own copy of every peer, and
 * an extension on another copy of @effect/platform has its routes registered
 * where the core's router never looks (they answered 404 while the extension
 * was listed as loaded, found by packages/host-node/test/installPacked.test.ts). Registered once, before the first extension module is
 * imported; on a layout where the copies are already shared it changes nothing.
 */
import { register } from "node:module"

/** The packages whose module-level state (context tags, fiber refs, routers) host and extensions must share. */
export const SHARED_PACKAGES = [
  "@itl-attestation/core",
  "effect",
  "@effect/platform",
  "@effect/platform-node",
  "@effect/sql",
  "@effect/sql-pg"
] as const

let registered = false

export const shareHostModules = () => {
  if (registered) return
  registered = true
  register("./sharedModulesHook.js", import.meta.url, {
    // From the core first: it serves every extension's API and provides the services, so an extension must see
    // the Effect and @effect/platform the core sees (in an `npm install -g` of the packed packages, the core and
    // host-node are two top-level packages with a copy each); then from host-node, for what the core lacks.
    data: { names: [...SHARED_PACKAGES], parents: [import.meta.resolve("@itl-attestation/core"), import.meta.url] }
  })
}
