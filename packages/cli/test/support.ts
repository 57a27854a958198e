/**
 * Running the built `attestation` binary in tests: a clean environment, its
 * result, and the checks every CLI test makes (JSON on stdout, or exactly one
 * error line on stderr).
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, expect } from "vitest"
import type { Swtpm } from "../../../test-support/swtpm.js"

export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * A private home for the CLI's profiles and command cache in this test file,
 * so neither the user's ~/.config profile nor another file's cache leaks in.
 */
const HOME = fs.mkdtempSync(path.join(os.tmpdir(), "itl-cli-test-"))
// Registered on the importing test file: removed once its tests are done.
afterAll(() => fs.rmSync(HOME, { recursive: true, force: true }))

/** A fresh directory under this file's private home. */
export const scratchDir = (prefix: string) => fs.mkdtempSync(path.join(HOME, `${prefix}-`))

/**
 * The caller's environment without ITL_*, TPM2TOOLS_*, NO_COLOR or XDG_*
 * settings, with this file's private config and cache directories, plus `env`.
 */
export const cleanEnv = (env: Record<string, string>) => ({
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith("ITL_") && !key.startsWith("TPM2TOOLS_") && !key.startsWith("XDG_") && key !== "NO_COLOR"
    )
  ),
  XDG_CONFIG_HOME: path.join(HOME, "config"),
  XDG_CACHE_HOME: path.join(HOME, "cache"),
  ...env
})

export const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<Run>((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv(env), timeout: 45_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    })
  })

/** Runs `command` with `args`, writing `stdin` (then closing it). */
export const runWithInput = (command: string, args: ReadonlyArray<string>, env: Record<string, string>, stdin: string) =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(command, args, { env: cleanEnv(env), stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(stdin)
  })

/** The CLI with `stdin` as its standard input. */
export const cliWithInput = (args: ReadonlyArray<string>, env: Record<string, string>, stdin: string) =>
  runWithInput(process.execPath, [BIN, ...args], env, stdin)

/** A directory with `attestation` in it (a symlink to the built binary), to put first on PATH. */
export const binDir = () => {
  const dir = scratchDir("bin")
  fs.symlinkSync(BIN, path.join(dir, "attestation"))
  return dir
}

/** A shell (bash, zsh, fish) running `script`, with `attestation` on its PATH. */
export const shell = (program: string, script: string, env: Record<string, string> = {}) =>
  new Promise<Run>((resolve) => {
    const dir = binDir()
    execFile(program, ["-c", script], { env: cleanEnv({ PATH: `${dir}:${process.env.PATH ?? ""}`, ...env }), timeout: 45_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    })
  })

/**
 * `command` (a shell command line) on a pseudo-terminal, with util-linux's
 * `script`: what a person at a terminal sees, stdout and stderr mixed, with
 * the terminal's CRLF line ends turned back into LF.
 */
export const onTerminal = (command: string, env: Record<string, string> = {}) =>
  new Promise<Run>((resolve) => {
    const dir = binDir()
    execFile(
      "script",
      ["-qec", command, "/dev/null"],
      { env: cleanEnv({ PATH: `${dir}:${process.env.PATH ?? ""}`, TERM: "xterm-256color", ...env }), timeout: 45_000 },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout: stdout.replace(/\r\n/g, "\n"), stderr })
      }
    )
  })

/** Any ANSI escape sequence. */
export const ANSI = /\u001b\[/

/** Exit 0, nothing on stderr, and stdout parsed as JSON. */
export const json = (run: Run) => {
  expect(run.stderr).toBe("")
  expect(run.code).toBe(0)
  return JSON.parse(run.stdout)
}

/** Exit 0, nothing on stderr; stdout as printed. */
export const ok = (run: Run) => {
  expect(run.stderr).toBe("")
  expect(run.code).toBe(0)
  return run.stdout
}

/** The exit code `code` (see src/exitCodes.ts) and exactly one stderr line, with no stack frames in it. */
export const expectOneLineError = (run: Run, code: number, ...patterns: ReadonlyArray<RegExp>) => {
  const lines = run.stderr.split("\n").filter((line) => line !== "")
  expect(lines, run.stderr).toHaveLength(1)
  expect(run.code, run.stderr).toBe(code)
  expect(run.stdout).toBe("")
  expect(run.stderr).not.toMatch(/^\s+at /m)
  expect(lines[0]).toMatch(/^attestation: /)
  for (const pattern of patterns) expect(lines[0]).toMatch(pattern)
}

/**
 * A usage mistake: exit 2 and one line `attestation: <message> (see '<command> --help')`,
 * pointing at the help of `command` (`attestation machine get`).
 */
export const expectUsageError = (run: Run, command: string, ...patterns: ReadonlyArray<RegExp>) => {
  expectOneLineError(run, 2, ...patterns)
  expect(run.stderr.trimEnd().endsWith(` (see '${command} --help')`), run.stderr).toBe(true)
}

/** An agent on one TPM, with its own state directory; `-o json` (a global option) goes before `agent`. */
export const agentOn = (tpm: Swtpm, url: string, stateDir: string) => (args: ReadonlyArray<string>) => {
  const globals = args[0] === "-o" ? args.slice(0, 2) : []
  return cli([...globals, "agent", ...args.slice(globals.length)], { TPM2TOOLS_TCTI: tpm.tcti, ITL_URL: url, ITL_AGENT_STATE_DIR: stateDir })
}

/**
 * A TPM reset, as at a reboot: orderly shutdown, reset through swtpm's control
 * port, startup. Saved contexts (ek.ctx, ak.ctx) are invalid afterwards.
 */
export const resetTpm = async (tpm: Swtpm) => {
  const ctrl = Number(/port=(\d+)/.exec(tpm.tcti)![1]) + 1
  await tpm.run("tpm2_shutdown", ["-c"])
  await tpm.run("swtpm_ioctl", ["--tcp", `127.0.0.1:${ctrl}`, "-i"])
  await tpm.run("tpm2_startup", ["-c"])
}
