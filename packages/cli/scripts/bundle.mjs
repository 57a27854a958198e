/**
 * Bundles the CLI (dist/main.js and everything it imports, Effect included)
 * into one file, dist/bin.js: Node then reads one file instead of resolving
 * and loading hundreds of modules, and `attestation --help` starts in a
 * fraction of the time (figures in docs/performance.md, bench/cli-start.js).
 *
 * Left out of the bundle: host-node (the server, loaded by `attestation serve`
 * from node_modules) and extension modules (imported from node_modules when
 * one of their commands runs). The SDK for extension modules
 * (dist/sdk.js) stays unbundled, as tsc wrote it.
 */
import * as esbuild from "esbuild"
import { chmodSync } from "node:fs"
import { fileURLToPath } from "node:url"

const dist = fileURLToPath(new URL("../dist/", import.meta.url))

await esbuild.build({
  entryPoints: [`${dist}main.js`],
  outfile: `${dist}bin.js`,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  external: ["@itl-attestation/host-node", "@itl-attestation/host-node/*"],
  // Some bundled dependencies call require() for Node built-ins.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: "warning"
})
chmodSync(`${dist}bin.js`, 0o755)
