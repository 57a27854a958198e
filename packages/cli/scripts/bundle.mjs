/**
 * Bundles an ES module and everything it imports (Effect included) into one
 * CommonJS file, loaded with V8's code cache (src/codeCache.ts): Node then
 * reads one file instead of resolving and loading hundreds of modules, and
 * skips compiling it on later runs (figures in docs/performance.md,
 * bench/cli-start.js).
 *
 *   node packages/cli/scripts/bundle.mjs <entry.js> <out.cjs> [--external <package>]…
 *
 * The CLI's build bundles dist/main.js into dist/cli.cjs, leaving out
 * host-node (the server, loaded by `attestation serve` from node_modules);
 * dist/bin.js loads it. secret_vault's build bundles its CLI module the same
 * way (dist/cli.cjs, named in its package.json), so its commands start as
 * fast as the core's. The SDK for extension modules (dist/sdk.js) stays
 * unbundled, as tsc wrote it.
 */
import * as esbuild from "esbuild"
import { chmodSync, existsSync } from "node:fs"
import * as path from "node:path"

const [entry, outfile, ...rest] = process.argv.slice(2)
if (entry === undefined || outfile === undefined) {
  console.error("usage: bundle.mjs <entry.js> <out.cjs> [--external <package>]…")
  process.exit(2)
}
const external = rest.flatMap((arg, i) => (rest[i - 1] === "--external" ? [arg, `${arg}/*`] : []))

await esbuild.build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  external,
  // The sources are ES modules: their import.meta.url becomes the bundle's own URL.
  define: { "import.meta.url": "__bundleUrl" },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: "warning"
})
// tsc keeps bin.ts's #! line but not the executable bit.
const bin = path.join(path.dirname(outfile), "bin.js")
if (existsSync(bin)) chmodSync(bin, 0o755)
