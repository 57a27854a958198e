/**
 * What long-running commands show while they run: `machine get --watch`
 * prints each status change as it happens and ends by itself once the machine
 * is revoked (Ctrl-C ends it with 130), and `machine list --all` shows its
 * paging progress on stderr on a terminal only.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { BIN, cleanEnv, cli, json, onTerminal, scratchDir } from "./support.js"

let server: TestServer
let env: Record<string, string>

beforeAll(async () => {
  server = await startServer()
  env = { ITL_URL: server.url, ITL_TOKEN: server.adminToken }
})

afterAll(async () => {
  await server?.stop()
})

const register = async (hostname: string) => {
  const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname })
  expect(registered.status).toBe(201)
  return registered.body.machine.id as string
}

const transition = async (id: string, action: string) => {
  const answer = await api(server, server.adminToken).post(`/api/v1/machines/${id}/${action}`, { reason: `test ${action}` })
  expect(answer.status, answer.text).toBe(200)
}

/** The CLI as a long-running child: its output so far, a wait for a line, and its exit. */
const spawnCli = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const waiters: Array<() => void> = []
  const changed = () => waiters.splice(0).forEach((wake) => wake())
  child.stdout.on("data", (chunk) => ((stdout += chunk), changed()))
  child.stderr.on("data", (chunk) => ((stderr += chunk), changed()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => (changed(), resolve(code ?? (signal === null ? null : -1)))))
  let done = false
  void exited.then(() => (done = true))
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    /** Resolves with the match once `pattern` is in stdout; rejects if the process ends first. */
    waitFor: async (pattern: RegExp) => {
      for (;;) {
        const match = pattern.exec(stdout)
        if (match !== null) return match
        if (done) throw new Error(`exited without ${pattern}; stdout: ${stdout}; stderr: ${stderr}`)
        await new Promise<void>((wake) => waiters.push(wake))
      }
    }
  }
}

describe("machine get --watch", () => {
  it("prints each change as a line and exits 0 by itself once the machine is revoked", async () => {
    const id = await register("watched")
    const watch = spawnCli(["machine", "get", id, "--watch", "--interval", "1"])
    await watch.waitFor(/^status\s+pending_approval$/m)
    await transition(id, "approve")
    await watch.waitFor(/^\S+ {2}status: pending_approval → approved \(reason: test approve\)$/m)
    await transition(id, "lock")
    await watch.waitFor(/status: approved → locked/)
    await transition(id, "revoke")
    expect(await watch.exited).toBe(0)
    const { stdout, stderr } = watch.output()
    expect(stderr).toBe("")
    expect(stdout.trimEnd().split("\n").at(-1)).toMatch(/status: locked → revoked \(reason: test revoke\)$/)
  })

  it("prints one JSON object per change with -o json", async () => {
    const id = await register("watched-json")
    const watch = spawnCli(["-o", "json", "machine", "get", id, "--watch", "--interval", "1"])
    // NDJSON from the first line: the machine as it is, then one object per change.
    await watch.waitFor(/^\{"id":.*"status":"pending_approval".*\}$/m)
    await transition(id, "approve")
    await watch.waitFor(/^\{"id":.*"status":"approved".*\}$/m)
    await transition(id, "revoke")
    expect(await watch.exited).toBe(0)
    const lines = watch.output().stdout.split("\n").filter((line) => line !== "")
    const states = lines.map((line) => JSON.parse(line) as { status: string })
    expect(states.map((m) => m.status)).toEqual(["pending_approval", "approved", "revoked"])
  })

  it("stops on Ctrl-C with exit code 130", async () => {
    const id = await register("watched-interrupted")
    const watch = spawnCli(["machine", "get", id, "--watch", "--interval", "1"])
    await watch.waitFor(/^status\s+pending_approval$/m)
    watch.child.kill("SIGINT")
    expect(await watch.exited).toBe(130)
    expect(watch.output().stderr).toBe("")
  })

  it("ends with exit 3 when the machine is deleted while watched", async () => {
    const id = await register("watched-deleted")
    const watch = spawnCli(["machine", "get", id, "--watch", "--interval", "1"])
    await watch.waitFor(/^status\s+pending_approval$/m)
    const removed = await api(server, server.adminToken).delete(`/api/v1/machines/${id}`)
    expect(removed.status).toBe(204)
    expect(await watch.exited).toBe(3)
    expect(watch.output().stderr).toMatch(/^attestation: .*not found.*\(HTTP 404\)\n$/)
  })
})

describe("machine list --all", () => {
  const BULK = 1_100

  beforeAll(async () => {
    // More machines than three pages of 500. Registration is rate-limited per
    // client, so they are inserted directly; what is tested is the listing.
    await server.sql(
      `INSERT INTO machines (ek_fingerprint, ek_public_pem, hostname, status)
       SELECT 'sha256:' || lpad(to_hex(g), 64, '0'), 'not a key', 'bulk-' || g, 'approved' FROM generate_series(1, ${BULK}) AS g`
    )
  })

  it("returns every page: every machine, once", async () => {
    const [all, ids] = await Promise.all([cli(["-o", "json", "machine", "list", "--all", "--hostname", "bulk-7"], env), cli(["machine", "list", "--all", "-q"], env)])
    expect(json(all).machines.map((m: { hostname: string }) => m.hostname)).toEqual(["bulk-7"])
    expect(ids.stderr).toBe("")
    const listed = ids.stdout.trim().split("\n")
    expect(listed.length).toBeGreaterThanOrEqual(BULK)
    expect(new Set(listed).size).toBe(listed.length)
  })

  it("shows its progress on stderr on a terminal, and nothing on stderr in a pipe", async () => {
    const out = path.join(scratchDir("progress"), "machines.txt")
    // stdout to a file: what the terminal shows is stderr alone.
    const [terminal, piped] = await Promise.all([
      onTerminal(`attestation machine list --all -q > ${out}`, env),
      cli(["machine", "list", "--all", "-q"], env)
    ])
    expect(terminal.code).toBe(0)
    expect(terminal.stdout).toMatch(/fetched 500 of \d{4} machines…/)
    expect(terminal.stdout).toMatch(/fetched 1000 of \d{4} machines…/)
    // The progress line is erased when done, and never reaches stdout.
    expect(terminal.stdout.endsWith("\r\u001b[2K")).toBe(true)
    const written = fs.readFileSync(out, "utf8")
    expect(written).not.toMatch(/fetched|\u001b/)
    expect(written).toBe(piped.stdout)
    expect(piped.code).toBe(0)
    expect(piped.stderr).toBe("")
  })
})
