/**
 * The platform as users get it from npm: its workspaces packed with `npm pack`
 * into tarballs, and commands run the way a user would type them (npm, the
 * installed `attestation`), with their exit code and output.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const ROOT = path.resolve(__dirname, "..")

/** The platform's published workspaces, in the order `npm pack -w` takes them. */
export const PLATFORM_PACKAGES = ["packages/core", "packages/host-node", "packages/cli", "packages/secret-vault", "packages/webhooks", "packages/metrics", "packages/pulumi-state"]

export interface Exec {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const exec = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: Record<string, string | undefined> }) =>
  new Promise<Exec>((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: options.env ?? process.env, timeout: 280_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    )
  })

/**
 * The environment a user's shell would have: this process's, without what the
 * test runner and the suite add (ITL_*, TEST_*, the outer npm's npm_*, Vitest's
 * variables, NODE_ENV) — proxies and CA bundles stay, npm needs them — with a
 * HOME of the test's (nothing is written to the user's) and npm's cache kept
 * where it is, so installs come from it first.
 */
export const userEnvironment = (home: string, extra: Record<string, string> = {}): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /^(ITL_|TEST_|npm_|VITEST|__VITEST)/i.test(name) || name === "NODE_ENV" || name === "INIT_CWD") continue
    env[name] = value
  }
  return { ...env, HOME: home, npm_config_cache: npmCache, ...extra }
}

/** The user's npm cache directory (npm's default, or the one this process was given). */
export const npmCache = process.env.npm_config_cache || path.join(os.homedir(), ".npm")

/** npm's flags for installs in tests: the local cache first, no audit or funding requests. */
export const NPM_QUIET = ["--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]

/**
 * Packs the platform's workspaces into `destination`; returns the tarballs'
 * absolute paths by package directory (an absolute path: npm reads `dir/x.tgz`
 * as a GitHub repository).
 */
export const packPlatform = async (destination: string): Promise<Record<string, string>> => {
  const packed = await exec("npm", ["pack", "--json", "--pack-destination", destination, ...PLATFORM_PACKAGES.flatMap((p) => ["-w", p])], { cwd: ROOT })
  if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.stderr}`)
  const listed = JSON.parse(packed.stdout) as Array<{ name: string; filename: string }>
  const byDir: Record<string, string> = {}
  for (const dir of PLATFORM_PACKAGES) {
    const name = JSON.parse(fs.readFileSync(path.join(ROOT, dir, "package.json"), "utf8")).name as string
    const entry = listed.find((p) => p.name === name)
    if (entry === undefined) throw new Error(`npm pack did not pack ${name}`)
    byDir[dir] = path.join(destination, entry.filename)
  }
  return byDir
}

/** The version in a workspace's package.json. */
export const versionOf = (dir: string): string => JSON.parse(fs.readFileSync(path.join(ROOT, dir, "package.json"), "utf8")).version
