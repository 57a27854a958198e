/**
 * The CLI's entry: run it on process.argv and exit with its code. The build
 * bundles this file with its dependencies into dist/bin.js (scripts/bundle.mjs),
 * which starts several times faster than loading the modules one by one.
 */
import { run } from "./cli.js"

run(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    // Not process.exit(): `serve` keeps running, and stdout may still be draining into a pipe.
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`attestation: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
)
