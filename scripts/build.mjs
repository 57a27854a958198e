#!/usr/bin/env node
/**
 * `npm run build` (also run by `npm ci` / `npm install` through `prepare`, and
 * before `npm start` and `npm test`): the TypeScript packages with `tsc -b`,
 * then the steps that work on its output. tsc -b is incremental, so on a built
 * tree this takes about half a second; a first build takes tens of seconds,
 * which is why it says what it is doing and how long it took.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const projects = ["packages/core", "packages/secret-vault", "packages/host-node", "packages/cli", "examples/external-extension"]

/** A project never built has no build info: then the whole tree is compiled, which is the slow case. */
const firstBuild = projects.some((project) => !fs.existsSync(path.join(root, project, "dist", ".tsbuildinfo")))

const log = (line) => process.stderr.write(`${line}\n`)

const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" })
  if (result.error) throw result.error
  if (result.status !== 0) process.exit(result.status ?? 1)
}

const tsc = () => {
  // Resolved from this repository (a devDependency), not from whatever `tsc` is on the PATH.
  const bin = createRequire(path.join(root, "package.json")).resolve("typescript/bin/tsc")
  run(process.execPath, [bin, "-b", ...projects])
}

/**
 * Steps that run after tsc, in order, on its output in packages/<name>/dist.
 * Add post-compile steps here.
 */
const node = (...args) => () => run(process.execPath, args)
const afterTsc = [
  {
    // The CLI starts from one bundled file; host-node (the server) stays outside it (packages/cli/scripts/bundle.mjs).
    name: "bundle the CLI",
    run: node("packages/cli/scripts/bundle.mjs", "packages/cli/dist/main.js", "packages/cli/dist/cli.cjs", "--external", "@itl-attestation/host-node")
  },
  {
    name: "bundle secret_vault's CLI module",
    run: node("packages/cli/scripts/bundle.mjs", "packages/secret-vault/dist/cli.js", "packages/secret-vault/dist/cli.cjs")
  }
]

const started = process.hrtime.bigint()
log(
  firstBuild
    ? "Building the TypeScript packages (the first build takes about half a minute)…"
    : "Building the TypeScript packages (only what changed)…"
)
tsc()
for (const step of afterTsc) step.run()
const seconds = Number(process.hrtime.bigint() - started) / 1e9
log(`Built in ${seconds.toFixed(1)} s.`)
