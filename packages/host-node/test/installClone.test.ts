/**
 * The `attestation` command from a clone, the two ways README.md ("Installing
 * the CLI") gives: the `./attestation` script at the repository's root, and
 * `npm link -w packages/cli` (here into a temporary global prefix, so the
 * user's global packages are untouched).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { exec, ROOT, userEnvironment, versionOf } from "../../../test-support/packing.js"
import { startServer, type TestServer } from "../../../test-support/server.js"

const WRAPPER = path.join(ROOT, "attestation")
let work: string
let elsewhere: string
let server: TestServer

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "itl-clone-cli-"))
  elsewhere = path.join(work, "elsewhere")
  fs.mkdirSync(elsewhere)
  server = await startServer()
}, 120_000)

afterAll(async () => {
  await server?.stop()
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
})

const env = () => userEnvironment(elsewhere)

describe("./attestation", () => {
  it("runs the clone's CLI from any directory, by its path or through a symbolic link", async () => {
    const version = await exec(WRAPPER, ["--version"], { cwd: elsewhere, env: env() })
    expect(version.code, version.stderr).toBe(0)
    expect(version.stdout.trim()).toBe(versionOf("packages/cli"))
    const link = path.join(work, "bin", "attestation")
    fs.mkdirSync(path.dirname(link))
    fs.symlinkSync(WRAPPER, link)
    const linked = await exec(link, ["--version"], { cwd: elsewhere, env: env() })
    expect(linked.code, linked.stderr).toBe(0)
    expect(linked.stdout.trim()).toBe(versionOf("packages/cli"))
  })

  it("passes its arguments and exit code through: a command against a server, and a refused one", async () => {
    const listed = await exec(WRAPPER, ["-o", "json", "machine", "list"], { cwd: elsewhere, env: { ...env(), ITL_URL: server.url, ITL_TOKEN: server.adminToken } })
    expect(listed.code, listed.stderr).toBe(0)
    expect(JSON.parse(listed.stdout)).toMatchObject({ machines: [] })
    const refused = await exec(WRAPPER, ["machine", "list"], { cwd: elsewhere, env: { ...env(), ITL_URL: server.url, ITL_TOKEN: "not-a-token" } })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/401/)
  })

  it("in a tree that is not built, says so and how to build it", async () => {
    // The script beside the root's package.json (it makes the script an ES module), without packages/cli/dist.
    const clone = path.join(work, "unbuilt")
    fs.mkdirSync(clone)
    fs.copyFileSync(WRAPPER, path.join(clone, "attestation"))
    fs.copyFileSync(path.join(ROOT, "package.json"), path.join(clone, "package.json"))
    fs.chmodSync(path.join(clone, "attestation"), 0o755)
    const run = await exec(path.join(clone, "attestation"), ["--help"], { cwd: elsewhere, env: env() })
    expect(run.code).toBe(1)
    expect(run.stdout).toBe("")
    expect(run.stderr.trim()).toBe(
      `attestation: the CLI is not built (no ${path.join(clone, "packages/cli/dist/bin.js")}); run \`npm ci\` or \`npm run build\` in ${clone}/`
    )
  })
})

describe("npm link -w packages/cli", () => {
  it("puts `attestation` in the global bin directory, running the clone's CLI", async () => {
    const prefix = path.join(work, "global")
    const linked = await exec("npm", ["link", "-w", "packages/cli", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: ROOT,
      env: userEnvironment(elsewhere, { npm_config_prefix: prefix })
    })
    expect(linked.code, linked.stderr).toBe(0)
    const bin = path.join(prefix, "bin", "attestation")
    expect(fs.realpathSync(bin)).toBe(path.join(ROOT, "packages/cli/dist/bin.js"))
    // As a user runs it: by name, from the PATH.
    const pathEnv = { ...env(), PATH: `${path.join(prefix, "bin")}:${process.env.PATH}` }
    const version = await exec("attestation", ["--version"], { cwd: elsewhere, env: pathEnv })
    expect(version.code, version.stderr).toBe(0)
    expect(version.stdout.trim()).toBe(versionOf("packages/cli"))
    const help = await exec("attestation", ["--help"], { cwd: elsewhere, env: pathEnv })
    expect(help.code, help.stderr).toBe(0)
    expect(help.stderr).toBe("")
    // secret_vault's commands come from the clone's node_modules, where the linked CLI really lives.
    expect(help.stdout).toMatch(/^ +shared-secret +Secrets shared by several machines/m)
  })
})
