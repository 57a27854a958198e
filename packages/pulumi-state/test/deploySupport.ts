/**
 * Deployment test helpers: a server whose runner can reach it (a port chosen
 * before start, so ITL_PULUMI_DEPLOY_BACKEND_URL can name it), the pulumi CLI
 * from scripts/pulumi/ensure.sh, and local bare git repositories holding
 * Node.js Pulumi programs, reached through file:// URLs.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { pulumiState } from "@itl-attestation/pulumi-state"
import { startServer, type TestServer } from "../../../test-support/server.js"
import { PULUMI_TOKEN } from "./client.js"

const root = path.resolve(__dirname, "../../..")

/** The pinned CLI's directory (built when missing, as in CI); never skipped. */
export const pulumiBin = (() => {
  let dir: string | undefined
  return () => (dir ??= execFileSync(path.join(root, "scripts/pulumi/ensure.sh"), { encoding: "utf8" }).trim())
})()

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

export const scratch = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), `itl-deploy-${prefix}-`))

/** A pulumi_state server with deployments allowed from `allow` (file:// prefixes). */
export const startDeployServer = async (allow: string, env: Record<string, string> = {}): Promise<TestServer> => {
  const port = await freePort()
  return startServer({
    extensions: [pulumiState],
    env: {
      ITL_PULUMI_TOKEN: PULUMI_TOKEN,
      ITL_PORT: String(port),
      ITL_PULUMI_DEPLOY_BACKEND_URL: `http://127.0.0.1:${port}`,
      ITL_PULUMI_DEPLOY_REPO_ALLOWLIST: allow,
      ITL_PULUMI_CLI: path.join(pulumiBin(), "pulumi"),
      ITL_PULUMI_DEPLOY_WORK_DIR: scratch("work"),
      HOME: os.homedir(),
      ...env
    }
  })
}

const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=main", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })

/** node_modules with @pulumi/pulumi, installed once per run from the smoke program's lockfile (npm's cache makes it offline after the first). */
export const sharedNodeModules = (() => {
  let dir: string | undefined
  return () => {
    if (dir !== undefined) return dir
    const target = path.join(os.tmpdir(), "itl-deploy-node-modules-v1")
    if (!fs.existsSync(path.join(target, "node_modules/@pulumi/pulumi/package.json"))) {
      fs.mkdirSync(target, { recursive: true })
      for (const f of ["package.json", "package-lock.json"]) fs.copyFileSync(path.join(root, "scripts/pulumi/smoke", f), path.join(target, f))
      execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: target, stdio: "ignore" })
    }
    return (dir = path.join(target, "node_modules"))
  }
})()

export interface Program {
  readonly project: string
  /** index.js */
  readonly code: string
  /** With package.json + lockfile (the runner runs npm ci); otherwise node_modules is a committed symlink to the shared install. */
  readonly install?: boolean
  /** Sub-directory of the repository holding the program. */
  readonly dir?: string
}

/** A bare repository (file:// URL) whose branch `main` holds the program. */
export const makeRepo = (base: string, name: string, program: Program): string => {
  const work = path.join(base, `${name}-work`)
  const bare = path.join(base, `${name}.git`)
  const dir = path.join(work, program.dir ?? "")
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${program.project}\nruntime: nodejs\n`)
  fs.writeFileSync(path.join(dir, "index.js"), program.code)
  if (program.install) {
    for (const f of ["package.json", "package-lock.json"]) fs.copyFileSync(path.join(root, "scripts/pulumi/smoke", f), path.join(dir, f))
  } else {
    fs.symlinkSync(sharedNodeModules(), path.join(dir, "node_modules"))
  }
  git(work, "init", "-q")
  git(work, "add", "-A")
  git(work, "commit", "-qm", "program")
  git(base, "clone", "-q", "--bare", work, bare)
  return `file://${bare}`
}

/** A dynamic-provider resource program: no provider download needed. */
export const programCode = (body: string) => `"use strict";
const pulumi = require("@pulumi/pulumi");
const provider = {
  async create(inputs) { return { id: "item-" + inputs.label, outs: inputs }; },
  async delete() {}
};
class Item extends pulumi.dynamic.Resource {
  constructor(name, args, opts) { super(provider, name, { label: args.label }, opts); }
}
${body}
`

export const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> => {
  const started = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}
