/**
 * `npm run docs:cli`: rewrites the generated part of docs/cli.md (below its
 * marker) from the command definitions, the core's and those of the
 * extensions installed in this workspace (secret_vault). With --check it
 * changes nothing and exits 1 when the file is out of date.
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { loadTree, REFERENCE_MARKER, renderReference } from "../dist/index.js"

const file = fileURLToPath(new URL("../../../docs/cli.md", import.meta.url))
const current = fs.readFileSync(file, "utf8")
const at = current.indexOf(REFERENCE_MARKER)
if (at === -1) throw new Error(`docs/cli.md has no marker line: ${REFERENCE_MARKER}`)
// Caches off: the reference must come from the modules themselves.
const { tree, problems } = await loadTree({ ...process.env, ITL_CLI_NO_CACHE: "1" })
if (problems.length > 0) throw new Error(problems.join("\n"))
const next = `${current.slice(0, at)}${REFERENCE_MARKER}\n\n${renderReference(tree)}`
if (process.argv.includes("--check")) {
  if (next !== current) {
    console.error("docs/cli.md is out of date: run npm run docs:cli")
    process.exit(1)
  }
} else if (next !== current) {
  fs.writeFileSync(file, next)
  console.error("docs/cli.md updated")
}
