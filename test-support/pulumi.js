/**
 * Test helper: the real, unmodified `pulumi` CLI (the pinned build of scripts/pulumi/ensure.sh) and
 * Node.js programs for it. Plain JavaScript (typed in pulumi.d.ts) because bench/pulumi.js, which
 * runs on plain Node, uses it too.
 *
 * - The CLI comes from ITL_PULUMI_BIN (a directory, exported by .ci/run) or else from ensure.sh, which
 *   prints the directory at once when the build is cached. A run without it FAILS with the reason
 *   (like swtpm): the tests never skip.
 * - Every session has its own PULUMI_HOME (credentials, plugins, logs), so test files cannot see
 *   each other's logins; no PULUMI_CONFIG_PASSPHRASE unless asked, so an HTTP backend's own secrets
 *   manager is the one in use.
 * - Programs are copied from fixtures into temp dirs; their node_modules (the SDK pinned by
 *   scripts/pulumi/smoke/package-lock.json) is installed once per lockfile into the cache directory
 *   beside the CLI, under a lock (parallel test files), and linked into each copy.
 */
import { execFile, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const execFileAsync = promisify(execFile)

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const ensureScript = join(repoRoot, "scripts/pulumi/ensure.sh")
/** The pinned SDK every test program uses (one lockfile for the smoke program and the tests). */
const sdkDir = join(repoRoot, "scripts/pulumi/smoke")
/** Pulumi programs for the tests and the bench. */
export const pulumiFixtures = join(repoRoot, "packages/pulumi-state/test/fixtures")

const failureDetail = (error) => (error instanceof Error ? error.stderr || error.message : String(error))

let binPromise

/** The directory holding `pulumi` and its language host; rejects with the reason when there is none. */
export const pulumiBin = () => {
  binPromise ??= (async () => {
    const fromEnv = process.env.ITL_PULUMI_BIN
    if (fromEnv !== undefined && fromEnv !== "") {
      if (!existsSync(join(fromEnv, "pulumi"))) {
        throw new Error(`ITL_PULUMI_BIN=${fromEnv} holds no pulumi binary; run scripts/pulumi/ensure.sh`)
      }
      return fromEnv
    }
    try {
      // A cold build takes minutes; .ci/run builds before the tests, so here it is instant.
      const { stdout } = await execFileAsync(ensureScript, [], { maxBuffer: 16 * 1024 * 1024, timeout: 110_000 })
      return stdout.trim()
    } catch (error) {
      throw new Error(
        `the real pulumi CLI is needed and could not be had from ${ensureScript} ` +
          `(build it first: scripts/pulumi/ensure.sh, needs Go and the Go module proxy; or set ITL_PULUMI_BIN): ${failureDetail(error)}`
      )
    }
  })()
  return binPromise
}

let nodeModulesPromise

/** node_modules with the pinned SDK, installed once per lockfile (offline when npm's cache has it). */
export const programNodeModules = () => {
  nodeModulesPromise ??= (async () => {
    const bin = await pulumiBin()
    const hash = createHash("sha256")
      .update(await readFile(join(sdkDir, "package-lock.json")))
      .update(await readFile(join(sdkDir, "package.json")))
      .digest("hex")
    const base = join(dirname(bin), "programs")
    const target = join(base, hash.slice(0, 16))
    const done = join(target, ".installed")
    if (existsSync(done)) return join(target, "node_modules")
    await mkdir(base, { recursive: true })
    // One installer at a time (parallel test files); the others wait on the lock and find it done.
    const stage = `${target}.stage-${process.pid}`
    const script = [
      `set -e`,
      `[ -f "$DONE" ] && exit 0`,
      `rm -rf "$STAGE" && mkdir -p "$STAGE"`,
      `cp "$SDK/package.json" "$SDK/package-lock.json" "$STAGE/"`,
      `cd "$STAGE" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null`,
      `touch "$STAGE/.installed"`,
      `rm -rf "$TARGET" && mv "$STAGE" "$TARGET"`
    ].join("\n")
    try {
      await execFileAsync("flock", [join(base, ".lock"), "sh", "-c", script], {
        env: { ...process.env, DONE: done, STAGE: stage, TARGET: target, SDK: sdkDir },
        maxBuffer: 16 * 1024 * 1024
      })
    } catch (error) {
      await rm(stage, { recursive: true, force: true })
      throw new Error(`npm ci of the test programs' SDK (${sdkDir}) failed: ${failureDetail(error)}`)
    }
    return join(target, "node_modules")
  })()
  return nodeModulesPromise
}

/** Removes what must never reach a test's failure message: the access token. */
const scrub = (text, secrets) => secrets.reduce((acc, secret) => (secret === "" ? acc : acc.split(secret).join("<token>")), text)

/** A CLI session: its own PULUMI_HOME and scratch directory (see pulumi.d.ts for the shape). */
export const pulumiSession = async (options = {}) => {
  const bin = await pulumiBin()
  const workDir = await mkdtemp(join(tmpdir(), "itl-pulumi-test-"))
  const home = join(workDir, "home")
  await mkdir(home)
  // Only what the CLI and Node need from the outer environment: nothing of the developer's own
  // Pulumi settings (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, …) leaks in, nor what makes the
  // CLI think an AI agent runs it (it then signs up for an account on its own).
  const inherited = Object.fromEntries(
    ["PATH", "HOME", "TMPDIR", "LANG", "npm_config_cache"].flatMap((key) => (process.env[key] === undefined ? [] : [[key, process.env[key]]]))
  )
  const env = {
    ...inherited,
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    PULUMI_HOME: home,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // No colour codes in what the tests match.
    NO_COLOR: "1",
    ...(options.accessToken === undefined ? {} : { PULUMI_ACCESS_TOKEN: options.accessToken }),
    ...options.env
  }
  const secrets = options.accessToken === undefined ? [] : [options.accessToken]

  const start = (args, runOptions = {}) => {
    const child = spawn(join(bin, "pulumi"), [...args], {
      cwd: runOptions.cwd ?? workDir,
      env: { ...env, ...runOptions.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk))
    child.stdin.end(runOptions.stdin ?? "")
    const done = new Promise((resolveDone, rejectDone) => {
      child.once("error", rejectDone)
      child.once("close", (code, signal) => {
        const result = {
          code: code ?? (signal === null ? -1 : 128),
          stdout: scrub(stdout, secrets),
          stderr: scrub(stderr, secrets),
          output: scrub(`${stdout}\n${stderr}`, secrets)
        }
        if (result.code !== 0 && runOptions.allowFailure !== true) {
          rejectDone(new Error(`pulumi ${args.join(" ")} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`))
        } else resolveDone(result)
      })
    })
    return { done, kill: (signal = "SIGINT") => child.kill(signal) }
  }

  let programs = 0
  return {
    home,
    env,
    workDir,
    run: (args, runOptions) => start(args, runOptions).done,
    start,
    program: async (fixture, programOptions = {}) => {
      const nodeModules = await programNodeModules()
      const dir = join(workDir, `program-${++programs}-${fixture}`)
      await cp(join(pulumiFixtures, fixture), dir, { recursive: true })
      await symlink(nodeModules, join(dir, "node_modules"), "dir")
      if (programOptions.projectName !== undefined) {
        const file = join(dir, "Pulumi.yaml")
        const text = await readFile(file, "utf8")
        await writeFile(file, text.replace(/^name: .*$/m, `name: ${programOptions.projectName}`))
      }
      return dir
    },
    cleanup: () => rm(workDir, { recursive: true, force: true })
  }
}

/** Waits until a file exists (a program's signal that it reached a point); no clock in the assertion. */
export const waitForFile = async (path, what, running) => {
  let exited
  running?.done.then(
    (result) => (exited = result),
    (error) => (exited = { code: -1, stdout: "", stderr: error.message, output: error.message })
  )
  for (;;) {
    if (existsSync(path)) return
    if (exited !== undefined) throw new Error(`pulumi exited before ${what}:\n${exited.output}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Renames into place, so a program polling for the file never sees it half written. */
export const releaseFile = async (path) => {
  await writeFile(`${path}.tmp`, "go")
  await rename(`${path}.tmp`, path)
}
