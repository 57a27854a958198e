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
const projects = ["packages/core", "packages/secret-vault", "packages/webhooks", "packages/metrics", "packages/pulumi-state", "packages/host-node", "packages/cli", "examples/external-extension"]

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
 * Add post-compile steps here. A step with an `output` is skipped while that
 * file is newer than everything it may be made from (see upToDate), so a
 * build of an unchanged tree stays as fast as tsc's own check.
 */
const node = (...args) => () => run(process.execPath, args)
const afterTsc = [
  {
    // The CLI starts from one bundled file; host-node (the server) stays outside it (packages/cli/scripts/bundle.mjs).
    name: "bundle the CLI",
    output: "packages/cli/dist/cli.cjs",
    run: node("packages/cli/scripts/bundle.mjs", "packages/cli/dist/main.js", "packages/cli/dist/cli.cjs", "--external", "@itl-attestation/host-node")
  },
  {
    name: "bundle secret_vault's CLI module",
    output: "packages/secret-vault/dist/cli.cjs",
    run: node("packages/cli/scripts/bundle.mjs", "packages/secret-vault/dist/cli.js", "packages/secret-vault/dist/cli.cjs")
  },
  {
    name: "bundle webhooks' CLI module",
    output: "packages/webhooks/dist/cli.cjs",
    run: node("packages/cli/scripts/bundle.mjs", "packages/webhooks/dist/cli.js", "packages/webhooks/dist/cli.cjs")
  },
  {
    name: "bundle pulumi_state's CLI module",
    output: "packages/pulumi-state/dist/cli.cjs",
    run: node("packages/cli/scripts/bundle.mjs", "packages/pulumi-state/dist/cli.js", "packages/pulumi-state/dist/cli.cjs")
  }
]

/** Newest modification time of the .js files tsc writes under packages/<name>/dist. */
const newestCompiled = () => {
  let newest = 0
  const visit = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) visit(file)
      else if (entry.name.endsWith(".js")) newest = Math.max(newest, fs.statSync(file).mtimeMs)
    }
  }
  for (const name of fs.readdirSync(path.join(root, "packages"))) {
    const dist = path.join(root, "packages", name, "dist")
    if (fs.existsSync(dist)) visit(dist)
  }
  return newest
}

/**
 * A step's output is up to date when it is newer than every compiled file of
 * the packages and than the last install (npm rewrites node_modules/.package-lock.json
 * on every install, so new dependencies are bundled too).
 */
const upToDate = (output) => {
  const target = path.join(root, output)
  if (!fs.existsSync(target)) return false
  const installed = path.join(root, "node_modules", ".package-lock.json")
  const inputs = Math.max(newestCompiled(), fs.existsSync(installed) ? fs.statSync(installed).mtimeMs : Infinity)
  return fs.statSync(target).mtimeMs > inputs
}

const started = process.hrtime.bigint()
log(
  firstBuild
    ? "Building the TypeScript packages (the first build takes about half a minute)…"
    : "Building the TypeScript packages (only what changed)…"
)
tsc()
for (const step of afterTsc) if (step.output === undefined || !upToDate(step.output)) step.run()
const seconds = Number(process.hrtime.bigint() - started) / 1e9
log(`Built in ${seconds.toFixed(1)} s.`)
