/**
 * `attestation serve` as a separate process (the built CLI), for tests of what
 * only a real process shows: ports, files, signals, exit codes, log lines.
 * Every wait is bounded so a regression fails instead of hanging.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"

export const BIN = path.resolve(__dirname, "../../cli/dist/bin.js")

const children = new Set<ChildProcess>()
/** For afterAll: no process outlives its test file. */
export const killAll = () => children.forEach((child) => child.kill("SIGKILL"))

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

export const hexKey = () => crypto.randomBytes(32).toString("hex")

export interface Spawned {
  readonly child: ChildProcess
  readonly port: number
  readonly url: string
  readonly exited: Promise<number | null>
  readonly output: () => { stdout: string; stderr: string }
  /** Waits for a pattern on stdout+stderr; throws (with the output) after `ms` or when the process exits. */
  readonly waitFor: (pattern: RegExp, ms?: number) => Promise<RegExpExecArray>
  /** Resolves with the exit code, or throws after `ms`. */
  readonly exit: (ms?: number) => Promise<number | null>
}

/**
 * Starts `attestation serve` with only PATH, a free ITL_PORT and `env` in its
 * environment; `bin` and `cwd` run another installation of the CLI, elsewhere.
 */
export const spawnServe = async (
  env: Record<string, string>,
  options: { readonly bin?: string; readonly cwd?: string; readonly user?: { readonly uid: number; readonly gid: number } } = {}
): Promise<Spawned> => {
  const port = env.ITL_PORT !== undefined ? Number(env.ITL_PORT) : await freePort()
  const child = spawn(process.execPath, [options.bin ?? BIN, "serve"], {
    env: { PATH: process.env.PATH ?? "", ITL_PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.user === undefined ? {} : options.user)
  })
  children.add(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d) => (stdout += d))
  child.stderr!.on("data", (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      children.delete(child)
      resolve(code)
    })
  )
  const waitFor = async (pattern: RegExp, ms = 60_000) => {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const match = pattern.exec(stdout + stderr)
      if (match) return match
      if (child.exitCode !== null) break
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`no ${pattern} in output (exit code ${child.exitCode}); stdout=${stdout} stderr=${stderr}`)
  }
  const exit = (ms = 30_000) =>
    Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`process still running after ${ms} ms; stdout=${stdout} stderr=${stderr}`)), ms)
      )
    ])
  return { child, port, url: `http://127.0.0.1:${port}`, exited, output: () => ({ stdout, stderr }), waitFor, exit }
}

export interface Answer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/**
 * One request with plain node:http. Resolves with the answer; rejects with the
 * socket error (ECONNREFUSED, ECONNRESET, …) or with `timeout` when no answer
 * came within `ms` — the failure the lifecycle tests look for.
 */
export const request = (
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent | false; ms?: number } = {}
) =>
  new Promise<Answer>((resolve, reject) => {
    const target = new URL(options.path ?? "/", url)
    const req = http.request(
      target,
      {
        method: options.method ?? "GET",
        headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
        agent: options.agent ?? false
      },
      (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (chunk) => (body += chunk))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        res.on("error", reject)
      }
    )
    req.setTimeout(options.ms ?? 15_000, () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })))
    req.on("error", reject)
    req.end(options.body)
  })
