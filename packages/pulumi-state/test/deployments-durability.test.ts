/**
 * The queue survives what real processes do, with the built `attestation
 * serve`: kill -9 of the instance running a deployment (another instance
 * ends it `failed` once its lease runs out, and runs what was still queued),
 * and two instances on one PostgreSQL database running each deployment once.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { freshDatabase } from "../../../test-support/database.js"
import { killAll, spawnServe, type Spawned } from "../../host-node/test/spawned.js"
import { PULUMI_TOKEN } from "./client.js"
import { makeRepo, programCode, pulumiBin, scratch, sharedNodeModules, until } from "./deploySupport.js"

const orphans: Array<number> = []
afterAll(() => {
  killAll()
  for (const pid of orphans) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone
    }
  }
})

const base = scratch("durable")
const repos = path.join(base, "repos")
fs.mkdirSync(repos)

const settingsFor = (database: { env: Record<string, string> }) => ({
  ...database.env,
  ITL_ADMIN_TOKEN: `test-admin-${crypto.randomBytes(16).toString("hex")}`,
  ITL_LOG_LEVEL: "warning",
  ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex"),
  ITL_PULUMI_TOKEN: PULUMI_TOKEN,
  ITL_PULUMI_CLI: path.join(pulumiBin(), "pulumi"),
  ITL_PULUMI_DEPLOY_REPO_ALLOWLIST: `file://${repos}/`,
  ITL_PULUMI_DEPLOY_WORK_DIR: scratch("durable-work"),
  ITL_PULUMI_DEPLOY_CONCURRENCY: "1"
})

/** An instance whose runner logs in to itself. */
const serve = async (settings: Record<string, string>) => {
  const port = (await import("../../host-node/test/spawned.js")).freePort
  const p = await port()
  const server = await spawnServe({ ...settings, ITL_PORT: String(p), ITL_PULUMI_DEPLOY_BACKEND_URL: `http://127.0.0.1:${p}` })
  await server.waitFor(/listening on/, 90_000)
  return server
}

const call = async (server: Spawned, method: string, route: string, body?: unknown) => {
  const response = await fetch(server.url + route, {
    method,
    headers: { authorization: `token ${PULUMI_TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
}

const ended = (server: Spawned, stack: string, id: string) =>
  until(`deployment ${id} to end`, async () => {
    const d = (await call(server, "GET", `/api/stacks/acme/app/${stack}/deployments/${id}`)).body
    return ["succeeded", "failed", "cancelled"].includes(d?.status) ? d : undefined
  })

describe("deployments across instances", () => {
  it("kill -9 of the running instance: the next instance ends its deployment failed when the lease runs out, and runs the queued one", async () => {
    sharedNodeModules()
    const database = await freshDatabase()
    try {
      const settings = settingsFor(database)
      const first = await serve(settings)
      for (const stack of ["slow", "next"]) expect((await call(first, "POST", "/api/stacks/acme/app", { stackName: stack })).status).toBe(200)
      const marker = path.join(base, "slow.pid")
      const slowRepo = makeRepo(repos, "slow", {
        project: "app",
        code: programCode(`require("fs").writeFileSync(process.env.MARKER, String(process.pid)); module.exports = new Promise(() => setInterval(() => {}, 1000));`)
      })
      const nextRepo = makeRepo(repos, "next", { project: "app", code: programCode(`new Item("n", { label: "n" });`) })
      const slow = (await call(first, "POST", "/api/stacks/acme/app/slow/deployments", { operation: "update", source: { repoURL: slowRepo, branch: "main" }, environment: { MARKER: marker } })).body
      orphans.push(Number(await until("the program to run", async () => (fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") || undefined : undefined))))
      const next = (await call(first, "POST", "/api/stacks/acme/app/next/deployments", { operation: "update", source: { repoURL: nextRepo, branch: "main" } })).body
      expect((await call(first, "GET", `/api/stacks/acme/app/next/deployments/${next.id}`)).body.status).toBe("queued")
      const running = (await call(first, "GET", `/api/stacks/acme/app/slow/deployments/${slow.id}`)).body
      expect(running.status).toBe("running")
      orphans.push(running.pid)

      first.child.kill("SIGKILL")
      await first.exited
      const second = await serve(settings)
      const lost = await ended(second, "slow", slow.id)
      expect(lost).toMatchObject({ status: "failed", reason: expect.stringMatching(/lease ran out/) })
      const done = await ended(second, "next", next.id)
      expect(done.status).toBe("succeeded")
      second.child.kill("SIGTERM")
      await second.exited
    } finally {
      await database.cleanup()
    }
  }, 300_000)

  it("a normal stop (SIGTERM) ends the running deployment failed and stops its processes", async () => {
    sharedNodeModules()
    const database = await freshDatabase()
    try {
      const settings = settingsFor(database)
      const first = await serve(settings)
      expect((await call(first, "POST", "/api/stacks/acme/app", { stackName: "stopped" })).status).toBe(200)
      const marker = path.join(base, "stopped.pid")
      const repo = makeRepo(repos, "stopped", {
        project: "app",
        code: programCode(`require("fs").writeFileSync(process.env.MARKER, String(process.pid)); module.exports = new Promise(() => setInterval(() => {}, 1000));`)
      })
      const run = (await call(first, "POST", "/api/stacks/acme/app/stopped/deployments", { operation: "update", source: { repoURL: repo, branch: "main" }, environment: { MARKER: marker } })).body
      const programPid = Number(await until("the program to run", async () => (fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") || undefined : undefined)))
      orphans.push(programPid)
      first.child.kill("SIGTERM")
      await first.exit(60_000)
      const alive = () => {
        try {
          process.kill(programPid, 0)
          return true
        } catch {
          return false
        }
      }
      expect(alive()).toBe(false)
      const second = await serve(settings)
      const done = (await call(second, "GET", `/api/stacks/acme/app/stopped/deployments/${run.id}`)).body
      expect(done).toMatchObject({ status: "failed", reason: "the server stopped while it ran" })
      second.child.kill("SIGTERM")
      await second.exited
    } finally {
      await database.cleanup()
    }
  }, 300_000)

  it.skipIf(process.env.TEST_DATABASE_URL === undefined || process.env.TEST_DATABASE_URL === "")(
    "two instances on one PostgreSQL database run each deployment exactly once",
    async () => {
      sharedNodeModules()
      const database = await freshDatabase()
      try {
        const settings = settingsFor(database)
        const a = await serve(settings)
        const b = await serve(settings)
        const repo = makeRepo(repos, "pair", { project: "app", code: programCode(`new Item("p", { label: "p" });`) })
        const stacks = ["s1", "s2", "s3", "s4"]
        const ids: Array<[string, string]> = []
        for (const [i, stack] of stacks.entries()) {
          const on = i % 2 === 0 ? a : b
          expect((await call(on, "POST", "/api/stacks/acme/app", { stackName: stack })).status).toBe(200)
          ids.push([stack, (await call(on, "POST", `/api/stacks/acme/app/${stack}/deployments`, { operation: "update", source: { repoURL: repo, branch: "main" } })).body.id])
        }
        for (const [stack, id] of ids) expect((await ended(a, stack, id)).status).toBe("succeeded")
        const db = new pg.Client({ connectionString: settings.ITL_DATABASE_URL })
        await db.connect()
        try {
          const started = await db.query("SELECT data->>'deployment_id' AS id FROM events WHERE event_type = 'pulumi.deployment_started'")
          expect(started.rows.map((r) => r.id).sort()).toEqual(ids.map(([, id]) => id).sort())
          const runners = await db.query("SELECT DISTINCT claimed_by FROM extension_pulumi_state_deployments")
          expect(runners.rows.length).toBeGreaterThanOrEqual(1)
        } finally {
          await db.end()
        }
        a.child.kill("SIGTERM")
        b.child.kill("SIGTERM")
        await Promise.all([a.exited, b.exited])
      } finally {
        await database.cleanup()
      }
    },
    300_000
  )
})
