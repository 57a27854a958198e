/**
 * Deployments run for real: a local bare git repository (file://, allowed)
 * holding a Node.js program, the pinned pulumi CLI, this server as its
 * backend. Happy path (npm ci, update, state in the stack, output kept,
 * environment redacted everywhere), a failing program, a cancel that stops
 * the process group, the concurrency limit, and a repository outside the
 * allowlist.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TestServer } from "../../../test-support/server.js"
import { client, PULUMI_TOKEN } from "./client.js"
import { makeRepo, programCode, scratch, sharedNodeModules, startDeployServer, until } from "./deploySupport.js"

let server: TestServer
let api: ReturnType<typeof client>
const base = scratch("run")
const repos = path.join(base, "repos")
fs.mkdirSync(repos)

const S = (stack: string) => `/api/stacks/acme/app/${stack}`

const finished = (stack: string, id: string) =>
  until(`deployment ${id} to end`, async () => {
    const answer = await api.get(`${S(stack)}/deployments/${id}`)
    return ["succeeded", "failed", "cancelled"].includes(answer.body.status) ? answer.body : undefined
  })

/** Every output chunk of a deployment, read page by page as `--follow` does. */
const logsOf = async (stack: string, id: string) => {
  let after = 0
  let text = ""
  for (;;) {
    const page = await api.get(`${S(stack)}/deployments/${id}?after=${after}&limit=2`)
    if (page.body.logs.length === 0) return text
    text += page.body.logs.map((l: { text: string }) => l.text).join("")
    after = page.body.nextAfter
  }
}

const alive = (pid: number, group = false) => {
  try {
    process.kill(group ? -pid : pid, 0)
    return true
  } catch {
    return false
  }
}

beforeAll(async () => {
  sharedNodeModules() // installed before the server starts: it blocks this process for a while
  server = await startDeployServer(`file://${repos}/`, { ITL_PULUMI_DEPLOY_CONCURRENCY: "1" })
  api = client(server)
  for (const stack of ["dev", "broken", "slow", "later"]) expect((await api.post("/api/stacks/acme/app", { stackName: stack })).status).toBe(200)
}, 300_000)
afterAll(async () => server?.stop())

describe("a deployment's run", () => {
  it("update: clones, runs npm ci and pulumi up with a stack token; succeeded, output kept, state in the stack; the environment never in the clear", async () => {
    const secret = "deploy-secret-" + Math.random().toString(36).slice(2, 12)
    const url = makeRepo(repos, "app", {
      project: "app",
      install: true,
      dir: "infra",
      code: programCode(`
console.log("the key is " + process.env.API_KEY + " and again:" + process.env.API_KEY);
const item = new Item("one", { label: process.env.REGION });
exports.label = item.label;
`)
    })
    const queued = await api.post(`${S("dev")}/deployments`, {
      operation: "update",
      source: { repoURL: url, branch: "main", repoDir: "infra" },
      environment: { API_KEY: secret, REGION: "eu-west" }
    })
    expect(queued.status).toBe(202)
    const done = await finished("dev", queued.body.id)
    const logs = await logsOf("dev", queued.body.id)
    expect(done.status, `${done.reason}\n${logs}`).toBe("succeeded")
    expect(done.reason).toBeNull()
    expect(logs).toMatch(/^\$ git .* clone --depth 1 --single-branch --no-tags --branch=main -- file:\/\//)
    expect(logs).toContain("$ npm ci")
    expect(logs).toContain("$ pulumi up --yes --non-interactive --stack acme/app/dev")
    expect(logs).toContain("[redacted]")
    expect(logs).not.toContain(secret)
    expect(done.logBytes).toBeGreaterThan(0)

    // The state the update saved is the stack's.
    const state = await api.get(`${S("dev")}/export`)
    expect(JSON.stringify(state.body)).toContain("item-eu-west")
    expect((await api.get(S("dev"))).body.version).toBeGreaterThanOrEqual(1)

    // Nowhere in the clear: the record, its logs, audit rows, events; and its token is gone.
    const dump = async (table: string) =>
      JSON.stringify(await server.sql<Record<string, unknown>>(`SELECT * FROM ${table}`), (_k, v) =>
        v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v
      )
    for (const table of ["extension_pulumi_state_deployments", "extension_pulumi_state_deployment_logs", "audit_log", "events"]) {
      expect(await dump(table)).not.toContain(secret)
    }
    const types = (await server.sql<{ event_type: string }>("SELECT event_type FROM events ORDER BY seq")).map((e) => e.event_type)
    expect(types).toEqual(expect.arrayContaining(["pulumi.deployment_queued", "pulumi.deployment_started", "pulumi.deployment_succeeded"]))
    expect(await server.sql("SELECT * FROM extension_pulumi_state_deploy_tokens WHERE deployment_id = $1", [queued.body.id])).toEqual([])
  }, 600_000)

  it("a failing program ends failed with the reason; its error is in the output", async () => {
    const url = makeRepo(repos, "broken", { project: "app", code: programCode(`throw new Error("boom-" + "on-purpose");`) })
    const queued = await api.post(`${S("broken")}/deployments`, { operation: "update", source: { repoURL: url, branch: "main" } })
    expect(queued.status).toBe(202)
    const done = await finished("broken", queued.body.id)
    expect(done.status).toBe("failed")
    expect(done.reason).toMatch(/^pulumi update exited with code [1-9]/)
    expect(await logsOf("broken", queued.body.id)).toContain("boom-on-purpose")
    const branch = await api.post(`${S("broken")}/deployments`, { operation: "update", source: { repoURL: url, branch: "no-such-branch" } })
    const missing = await finished("broken", branch.body.id)
    expect(missing).toMatchObject({ status: "failed", reason: expect.stringMatching(/^git clone exited with code/) })
  }, 600_000)

  it("cancel stops a running deployment's process group; the next queued one waits for the free slot (concurrency 1)", async () => {
    const marker = path.join(base, "running.pid")
    const url = makeRepo(repos, "slow", {
      project: "app",
      code: programCode(`
require("fs").writeFileSync(process.env.MARKER, JSON.stringify({ pid: process.pid, token: process.env.PULUMI_ACCESS_TOKEN }));
new Item("waits", { label: "w" });
module.exports = new Promise(() => setInterval(() => {}, 1000));
`)
    })
    const slow = await api.post(`${S("slow")}/deployments`, { operation: "update", source: { repoURL: url, branch: "main" }, environment: { MARKER: marker } })
    expect(slow.status).toBe(202)
    const seen = JSON.parse(await until("the program to run", async () => (fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") || undefined : undefined)))
    const programPid = seen.pid as number
    expect(alive(programPid)).toBe(true)

    // The run's token: a deployment token, good for its own stack only.
    const token = seen.token as string
    expect(token).toMatch(/^pdt_[A-Za-z0-9_-]{43}$/)
    expect(token).not.toBe(PULUMI_TOKEN)
    const as = { auth: `token ${token}` }
    expect((await api.get("/api/user", as)).status).toBe(200)
    expect((await api.get(S("slow"), as)).status).toBe(200)
    expect((await api.get(`${S("slow")}/export`, as)).status).toBe(200)
    expect((await api.get(S("dev"), as)).status).toBe(403)
    expect((await api.get(`${S("dev")}/export`, as)).status).toBe(403)
    expect((await api.get("/api/stacks/acme/app%2Fx/slow", as)).status).not.toBe(200)
    expect((await api.get("/api/user/stacks", as)).status).toBe(403)
    expect((await api.get(`${S("slow")}/deployments`, as)).status).toBe(403)
    expect((await api.post(`${S("slow")}/deployments`, { operation: "update", source: { repoURL: url, branch: "main" } }, as)).status).toBe(403)
    expect((await api.get("/api/v1/pulumi/token-limits", { auth: `Bearer ${token}` })).status).toBe(401)
    expect((await api.get("/api/v1/machines", { auth: `Bearer ${token}` })).status).toBe(401)

    // Another stack's deployment, queued while the only slot is taken, stays queued.
    const later = await api.post(`${S("later")}/deployments`, { operation: "preview", source: { repoURL: makeRepo(repos, "later", { project: "app", code: programCode(`new Item("p", { label: "p" });`) }), branch: "main" } })
    const running = (await api.get(`${S("slow")}/deployments/${slow.body.id}`)).body
    expect(running.status).toBe("running")
    expect((await api.get(`${S("later")}/deployments/${later.body.id}`)).body.status).toBe("queued")
    const pid = running.pid as number
    expect(alive(pid, true)).toBe(true)

    const cancel = await api.del(`${S("slow")}/deployments/${slow.body.id}/cancel`)
    expect(cancel.status).toBe(200)
    expect(cancel.body.cancelRequested).toBe(true)
    const done = await finished("slow", slow.body.id)
    expect(done.status).toBe("cancelled")
    expect(done.reason).toMatch(/cancelled while running/)
    expect(alive(pid, true)).toBe(false)
    expect(alive(programPid)).toBe(false)
    expect((await api.del(`${S("slow")}/deployments/${slow.body.id}/cancel`)).status).toBe(409)
    // The Pulumi update its CLI had started is over with it: the stack is free now, not when that lease runs out.
    const own = await server.sql<{ status: string }>(
      `SELECT status FROM extension_pulumi_state_updates WHERE created_by = 'deployment:${slow.body.id}'`
    )
    expect(own.length).toBeGreaterThan(0)
    expect(own.filter((u) => u.status === "running" || u.status === "not started")).toEqual([])
    // Its run is over: the token is refused everywhere.
    expect((await api.get(S("slow"), as)).status).toBe(401)
    expect((await api.get("/api/user", as)).status).toBe(401)

    const next = await finished("later", later.body.id)
    expect(next.status, await logsOf("later", later.body.id)).toBe("succeeded")
    expect(Date.parse(next.startedAt)).toBeGreaterThanOrEqual(Date.parse(done.endedAt))
    const types = (await server.sql<{ event_type: string }>("SELECT event_type FROM events WHERE event_type = 'pulumi.deployment_cancelled'")).length
    expect(types).toBe(1)
  }, 600_000)

  it("a queued deployment is cancelled at once", async () => {
    // The slot is taken by a waiting run again, so the second stays queued until cancelled.
    const marker = path.join(base, "again.pid")
    const url = makeRepo(repos, "slow2", {
      project: "app",
      code: programCode(`require("fs").writeFileSync(process.env.MARKER, "1"); module.exports = new Promise(() => setInterval(() => {}, 1000));`)
    })
    const slow = await api.post(`${S("slow")}/deployments`, { operation: "preview", source: { repoURL: url, branch: "main" }, environment: { MARKER: marker } })
    await until("the program to run", async () => (fs.existsSync(marker) ? true : undefined))
    const queued = await api.post(`${S("dev")}/deployments`, { operation: "refresh", source: { repoURL: url, branch: "main" } })
    const cancelled = await api.del(`${S("dev")}/deployments/${queued.body.id}/cancel`)
    expect(cancelled.body).toMatchObject({ status: "cancelled", reason: expect.stringMatching(/before it started/) })
    await api.del(`${S("slow")}/deployments/${slow.body.id}/cancel`)
    expect((await finished("slow", slow.body.id)).status).toBe("cancelled")
    const row = (await api.get(`${S("dev")}/deployments/${queued.body.id}`)).body
    expect(row.startedAt).toBeNull()
  }, 600_000)
})
