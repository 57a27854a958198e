#!/usr/bin/env node
/**
 * The `attestation` executable. The CLI itself is one bundled file,
 * dist/cli.cjs (scripts/bundle.mjs), loaded with V8's code cache
 * (codeCache.ts): later runs skip compiling it. Figures: docs/performance.md
 * (`npm run bench:cli`).
 */
import { fileURLToPath } from "node:url"
import { requireWithCodeCache } from "./codeCache.js"
import { IMPORTER_KEY } from "./dynamicImport.js"

// The bundle's imports of modules outside it (host-node for `serve`, extension modules) go through
// this module's import(): code compiled by vm.Script has no loader of its own (dynamicImport.ts).
;(globalThis as Record<symbol, unknown>)[IMPORTER_KEY] = (specifier: string) => import(specifier)

requireWithCodeCache(fileURLToPath(new URL("./cli.cjs", import.meta.url)))
