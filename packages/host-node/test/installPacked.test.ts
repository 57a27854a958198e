/**
 * The `attestation` command installed the ways README.md ("Installing the
 * CLI") tells users, from the tarballs `npm pack` makes of the workspaces (what
 * the registry would serve): `npm install -g` into a temporary prefix, and
 * `npx` (`npm exec --package=…`). The installed command runs from a directory
 * that is neither the repository nor the installation, with a clean
 * environment, so nothing is found by accident in the working directory.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { exec, npmCache, NPM_QUIET, packPlatform, userEnvironment, versionOf } from "../../../test-support/packing.js"
import { killAll, request, spawnServe } from "./spawned.js"

let work: string
let tarballs: Record<string, string>
let elsewhere: string
const npxBefore = new Set<string>()
const npxCache = path.join(npmCache, "_npx")
const listNpx = () => (fs.existsSync(npxCache) ? fs.readdirSync(npxCache) : [])

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "itl-install-"))
  elsewhere = path.join(work, "elsewhere")
  fs.mkdirSync(elsewhere)
  fs.mkdirSync(path.join(work, "packs"))
  tarballs = await packPlatform(path.join(work, "packs"))
  for (const entry of listNpx()) npxBefore.add(entry)
}, 120_000)

afterAll(() => {
  killAll()
  // npx installs into npm's cache, in a directory named after the package specs: remove the ones this file made.
  for (const entry of listNpx()) if (!npxBefore.has(entry)) fs.rmSync(path.join(npxCache, entry), { recursive: true, force: true })
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
})

/** A user's shell, in a directory of its own (see userEnvironment). */
const userEnv = () => userEnvironment(elsewhere)

describe("npm install -g of the packed packages", () => {
  let prefix: string
  let bin: string

  beforeAll(async () => {
    prefix = path.join(work, "prefix")
    // The packages depend on each other by exact version: one command installs them all from their tarballs.
    const installed = await exec("npm", ["install", "-g", "--prefix", prefix, ...NPM_QUIET, ...Object.values(tarballs)], { cwd: elsewhere, env: userEnv() })
    expect(installed.code, installed.stderr).toBe(0)
    bin = path.join(prefix, "bin", "attestation")
  }, 300_000)

  it("puts `attestation` in the prefix's bin directory; --help and --version work", async () => {
    expect(fs.existsSync(bin)).toBe(true)
    const version = await exec(bin, ["--version"], { cwd: elsewhere, env: userEnv() })
    expect(version.code, version.stderr).toBe(0)
    expect(version.stdout.trim()).toBe(versionOf("packages/cli"))
    const help = await exec(bin, ["--help"], { cwd: elsewhere, env: userEnv() })
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/^ +machine +Manage registered machines/m)
    expect(help.stdout).toMatch(/^ +serve +Run the attestation server/m)
  })

  it("`attestation serve` starts on the embedded database and finds metrics, pulumi_state, secret_vault and webhooks installed beside it", async () => {
    const dataDir = fs.mkdtempSync(path.join(work, "data-"))
    const server = await spawnServe({ ITL_DATA_DIR: dataDir, HOME: elsewhere }, { bin, cwd: elsewhere })
    try {
      await server.waitFor(/^Extensions: .*$/m, 110_000)
      expect(server.output().stdout).toMatch(/^Extensions: metrics 1\.0\.0, pulumi_state 1\.0\.0, secret_vault 2\.0\.0, webhooks 1\.0\.0$/m)
      const health = await request(server.url, { path: "/healthz" })
      expect(health.status).toBe(200)
      const extensions = await request(server.url, { path: "/api/v1/extensions" })
      expect(extensions.status).toBe(200)
      expect(JSON.parse(extensions.body).extensions.map((e: { name: string }) => e.name)).toEqual(["metrics", "pulumi_state", "secret_vault", "webhooks"])
      // Each extension's routes are served, not only listed: every global package has its own node_modules with
      // its own copy of the core's peers, and an extension on another copy of @effect/platform had its routes
      // registered where the core's router never looked (404). metrics also brings prom-client with it.
      const scraped = await request(server.url, { path: "/metrics" })
      expect(scraped.status).toBe(200)
      expect(scraped.body).toContain("# TYPE attestation_machines_by_status gauge")
      const admin = { authorization: `Bearer ${fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim()}` }
      for (const route of ["/api/v1/webhooks", "/api/v1/shared-secrets", "/api/v1/pulumi/token-limits"]) {
        const answer = await request(server.url, { path: route, headers: admin })
        expect(answer.status, `${route}: ${answer.body}`).toBe(200)
      }
      expect(server.output().stderr).not.toContain("[Extension] Failed")
      // It keeps its data where it was told, not in the installation.
      expect(fs.existsSync(path.join(dataDir, "admin-token"))).toBe(true)
    } finally {
      server.child.kill("SIGTERM")
      await server.exit()
    }
  }, 150_000)

  // Each global package has its own node_modules: an extension's CLI module must not need to resolve the CLI's
  // dependencies from where it is installed.
  it("adds secret_vault's commands (shared-secret, agent secret) and webhooks' (webhook) without a problem line", async () => {
    const help = await exec(bin, ["--help"], { cwd: elsewhere, env: userEnv() })
    expect(help.stderr).toBe("")
    expect(help.stdout).toMatch(/^ +shared-secret +Secrets shared by several machines/m)
    expect(help.stdout).toMatch(/^ +webhook +/m)
    const webhook = await exec(bin, ["webhook", "--help"], { cwd: elsewhere, env: userEnv() })
    expect(webhook.stderr).toBe("")
    expect(webhook.stdout).toMatch(/^ +add +/m)
    const agent = await exec(bin, ["agent", "--help"], { cwd: elsewhere, env: userEnv() })
    expect(agent.stderr).toBe("")
    expect(agent.stdout).toMatch(/^ +secret +Secrets the server keeps for this machine/m)
  })
})

describe("npx", () => {
  // `npx @itl-attestation/cli` from the registry; here its tarball, with the packages it needs beside it.
  const npx = (args: ReadonlyArray<string>) =>
    exec(
      "npm",
      ["exec", "--yes", ...NPM_QUIET, ...Object.values(tarballs).map((t) => `--package=${t}`), "--", "attestation", ...args],
      { cwd: elsewhere, env: userEnv() }
    )

  it("runs `attestation --help` and `--version` from the package, with secret_vault's commands", async () => {
    const help = await npx(["--help"])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stderr).toBe("")
    expect(help.stdout).toMatch(/^ +machine +Manage registered machines/m)
    expect(help.stdout).toMatch(/^ +shared-secret +Secrets shared by several machines/m)
    const version = await npx(["--version"])
    expect(version.code, version.stderr).toBe(0)
    expect(version.stdout.trim()).toBe(versionOf("packages/cli"))
  }, 200_000)
})
