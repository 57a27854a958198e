/** This CLI's version, from its package.json (dist/version.js sits one level below it, as src/version.ts does). */
import { createRequire } from "node:module"

export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version
