/**
 * PostgreSQL down at start-up and while serving. The shared cluster other
 * tests use is never touched: these tests run a private PostgreSQL instance
 * (initdb into a temporary directory, run as the `postgres` OS user) that
 * they stop and start at will. PostgreSQL's binaries are a test dependency
 * (.ci/run installs them), so this always runs.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, hexKey, killAll, request, spawnServe } from "./spawned.js"

const PG_BIN = "/usr/lib/postgresql/15/bin"
const password = `outage-pw-${hexKey().slice(0, 12)}`
const adminToken = `outage-admin-${hexKey().slice(0, 16)}`

const asPostgres = (command: string, args: ReadonlyArray<string>) =>
  execFileSync("runuser", ["-u", "postgres", "--", path.join(PG_BIN, command), ...args], {
    encoding: "utf8",
    timeout: 60_000,
    stdio: ["ignore", "pipe", "pipe"]
  })

/** A PostgreSQL instance of its own on a free port; trust authentication, so any password is accepted. */
const privateInstance = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-pg-private-"))
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim())
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim())
  fs.chownSync(dir, uid, gid)
  const data = path.join(dir, "data")
  asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
  const port = await freePort()
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`
  let running = false
  return {
    port,
    url: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
    start: () => {
      if (!running) asPostgres("pg_ctl", ["-D", data, "-o", options, "-l", path.join(dir, "log"), "-w", "-t", "30", "start"])
      running = true
    },
    stop: () => {
      if (running) asPostgres("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "30", "stop"])
      running = false
    },
    remove: () => {
      try {
        asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

let instance: Awaited<ReturnType<typeof privateInstance>>
beforeAll(async () => {
  instance = await privateInstance()
}, 120_000)
afterAll(() => {
  killAll()
  instance?.remove()
})

const keys = () => ({ ITL_MASTER_KEY: hexKey(), ITL_SHARED_SECRET_MASTER_KEY: hexKey() })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("PostgreSQL unreachable", () => {
  it("at start-up: retries with a log line per attempt, then serves once the database is up; an outage answers 503 and heals", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-outage-"))
    try {
      const server = await spawnServe({ ITL_DATA_DIR: dataDir, ITL_DATABASE_URL: instance.url, ITL_ADMIN_TOKEN: adminToken, ...keys() })
      await server.waitFor(/unreachable \(attempt 2\)/, 30_000)
      expect(server.child.exitCode).toBe(null)
      instance.start()
      await server.waitFor(/listening on/, 60_000)
      const { stdout } = server.output()
      expect(stdout).toMatch(new RegExp(`level=WARN .*database postgresql://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${instance.port}/postgres unreachable \\(attempt 1\\): connect ECONNREFUSED`))

      const auth = { authorization: `Bearer ${adminToken}` }
      const machines = () => request(server.url, { path: "/api/v1/machines", headers: auth })
      expect((await machines()).status).toBe(200)

      instance.stop()
      for (const answer of [
        await machines(),
        await request(server.url, { method: "POST", path: "/api/v1/operators/tokens", headers: auth, body: JSON.stringify({ name: "during-outage", role: "viewer" }) }),
        await request(server.url, { path: "/api/v1/audit", headers: auth })
      ]) {
        expect(answer.status, answer.body).toBe(503)
        expect(answer.headers["retry-after"]).toMatch(/^\d+$/)
        expect(JSON.parse(answer.body).error).toBe("service_unavailable")
      }
      const readiness = await request(server.url, { path: "/readyz" })
      expect(readiness.status).toBe(503)
      expect(readiness.headers["retry-after"]).toMatch(/^\d+$/)
      expect((await request(server.url, { path: "/healthz" })).status).toBe(200)

      // Back without restarting the server.
      instance.start()
      let status = 0
      for (let i = 0; i < 60 && status !== 200; i++) {
        status = (await machines()).status
        if (status !== 200) await sleep(500)
      }
      expect(status).toBe(200)
      expect((await request(server.url, { path: "/readyz" })).status).toBe(200)
      const created = await request(server.url, { method: "POST", path: "/api/v1/operators/tokens", headers: auth, body: JSON.stringify({ name: "after-outage", role: "viewer" }) })
      expect(created.status).toBe(201)

      server.child.kill("SIGTERM")
      expect(await server.exit()).toBe(0)
      const output = server.output()
      expect(output.stdout + output.stderr).not.toContain(password)
      expect(output.stdout).not.toMatch(/status=500|level=ERROR/)
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }, 240_000)

  it("gives up after ITL_DATABASE_CONNECT_TIMEOUT with one line naming the cause", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-outage-"))
    try {
      const nothing = await freePort()
      const url = `postgresql://postgres:${password}@127.0.0.1:${nothing}/attestation`
      const server = await spawnServe({ ITL_DATA_DIR: dataDir, ITL_DATABASE_URL: url, ITL_DATABASE_CONNECT_TIMEOUT: "3 seconds", ...keys() })
      expect(await server.exit(30_000)).toBe(1)
      const { stdout, stderr } = server.output()
      expect(stdout.match(/unreachable \(attempt \d+\)/g)!.length).toBeGreaterThanOrEqual(2)
      expect(stderr.trim().split("\n")).toEqual([
        `attestation: cannot start: ITL_DATABASE_URL: cannot connect to postgresql://postgres:***@127.0.0.1:${nothing}/attestation within 3s (ITL_DATABASE_CONNECT_TIMEOUT): ` +
          `connection refused: is PostgreSQL running and listening on that host and port? (connect ECONNREFUSED 127.0.0.1:${nothing})`
      ])
      expect(stdout + stderr).not.toContain(password)
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }, 60_000)

  it("does not wait for what waiting cannot fix: a database that does not exist stops the start at once", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-outage-"))
    try {
      instance.start()
      const url = `postgresql://postgres:${password}@127.0.0.1:${instance.port}/no_such_database`
      const server = await spawnServe({ ITL_DATA_DIR: dataDir, ITL_DATABASE_URL: url, ...keys() })
      // Well under the 60 s default connect timeout.
      expect(await server.exit(20_000)).toBe(1)
      const { stdout, stderr } = server.output()
      expect(stdout).not.toMatch(/unreachable/)
      expect(stderr.trim().split("\n")).toEqual([expect.stringMatching(/^attestation: cannot start: ITL_DATABASE_URL: .*no_such_database.*does not exist/)])
      instance.stop()
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }, 60_000)
})
