/**
 * The built `attestation pulumi …` commands against a live server with the
 * real runner: stacks, deploy (with a variable taken from the caller's
 * environment, and --follow), deployments, deployment, history; refusals as
 * one line with the exit code of their class.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TestServer } from "../../../test-support/server.js"
import { cli, expectOneLineError, expectUsageError, json, ok } from "../../cli/test/support.js"
import { client, operatorToken } from "./client.js"
import { makeRepo, programCode, scratch, sharedNodeModules, startDeployServer, until } from "./deploySupport.js"

let server: TestServer
let operator: string
const base = scratch("cli")
const repos = path.join(base, "repos")
fs.mkdirSync(repos)
let repo: string
const as = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => cli(args, { ITL_URL: server.url, ITL_TOKEN: operator, ...env })

beforeAll(async () => {
  sharedNodeModules()
  repo = makeRepo(repos, "cliapp", {
    project: "web",
    dir: "infra",
    code: programCode(`console.log("token " + process.env.DEPLOY_SECRET); new Item("x", { label: "cli" });`)
  })
  server = await startDeployServer(`file://${repos}/`)
  operator = (await operatorToken(server, "ops-cli", "operator")).token
  const api = client(server)
  for (const stack of ["production", "dev"]) expect((await api.post("/api/stacks/acme/web", { stackName: stack })).status).toBe(200)
}, 300_000)
afterAll(async () => server?.stop())

describe("attestation pulumi", () => {
  it("stacks lists every stack (table, json, ids)", async () => {
    const listed = json(await as(["-o", "json", "pulumi", "stacks"]))
    expect(listed.stacks.map((s: { stackName: string }) => s.stackName).sort()).toEqual(["dev", "production"])
    expect(ok(await as(["-o", "id", "pulumi", "stacks"])).trim().split("\n").sort()).toEqual(["acme/web/dev", "acme/web/production"])
    expect(ok(await as(["pulumi", "stacks"]))).toMatch(/acme\/web\/production/)
  })

  it("deploy --follow prints the output and exits 0; the value from the caller's environment is redacted; deployments and deployment show it", async () => {
    const secret = "cli-secret-" + Math.random().toString(36).slice(2, 12)
    const run = await as(
      ["pulumi", "deploy", "acme/web/production", "--operation", "update", "--repo", repo, "--branch", "main", "--dir", "infra", "--env", "DEPLOY_SECRET", "--follow"],
      { DEPLOY_SECRET: secret }
    )
    expect(run.code, run.stderr + run.stdout).toBe(0)
    expect(run.stdout).toContain("$ pulumi up --yes --non-interactive --stack acme/web/production")
    expect(run.stdout).toContain("token [redacted]")
    expect(run.stdout).not.toContain(secret)
    const id = /deployment ([0-9a-f-]{36}) queued/.exec(run.stderr)![1]!

    const list = json(await as(["-o", "json", "pulumi", "deployments", "acme/web/production"]))
    expect(list.total).toBe(1)
    expect(list.deployments[0]).toMatchObject({ id, status: "succeeded", environment: ["DEPLOY_SECRET"], createdBy: "ops-cli" })
    expect(ok(await as(["-o", "id", "pulumi", "deployments", "acme/web/production"])).trim()).toBe(id)
    const one = json(await as(["-o", "json", "pulumi", "deployment", "acme/web/production", id]))
    expect(one).toMatchObject({ id, status: "succeeded", operation: "update" })
    expect(ok(await as(["pulumi", "deployment", "acme/web/production", id]))).toMatch(/status\s+succeeded/)
    const followed = await as(["pulumi", "deployment", "acme/web/production", id, "--follow"])
    expect(followed.code).toBe(0)
    expect(followed.stdout).toContain("[succeeded]")
    expect(followed.stdout).not.toContain(secret)

    const history = await as(["-o", "json", "pulumi", "history", "acme/web/production"])
    expect(history.code, history.stderr).toBe(0)
    expect(JSON.parse(history.stdout).updates[0]).toMatchObject({ kind: "update", result: "succeeded" })
    expect(ok(await as(["pulumi", "history", "acme/web/production"]))).toMatch(/update\s+succeeded/)
  }, 120_000)

  it("deploy without --follow prints the queued deployment; a failing one followed exits non-zero with its reason", async () => {
    const queued = json(await as(["-o", "json", "pulumi", "deploy", "acme/web/dev", "--repo", repo, "--branch", "main", "--dir", "missing"]))
    expect(queued).toMatchObject({ operation: "update", source: { repoDir: "missing" } })
    const followed = await as(["pulumi", "deployment", "acme/web/dev", queued.id, "--follow"])
    expect(followed.code).toBe(1)
    expect(followed.stderr).toMatch(/^attestation: deployment .* failed: source\.repoDir "missing" does not exist in the repository/)
    const done = await until("the deployment to end", async () => {
      const d = json(await as(["-o", "json", "pulumi", "deployment", "acme/web/dev", queued.id]))
      return d.status === "failed" ? d : undefined
    })
    expect(done.reason).toMatch(/does not exist/)
  }, 120_000)

  it("refusals: a repository outside the allowlist (403 → exit 4), an unknown stack (exit 3), a missing --env value and a bad stack name (usage)", async () => {
    expectOneLineError(
      await as(["pulumi", "deploy", "acme/web/dev", "--repo", `file://${base}/elsewhere.git`, "--branch", "main"]),
      4,
      /source\.repoURL: is not under a prefix of ITL_PULUMI_DEPLOY_REPO_ALLOWLIST/
    )
    expectOneLineError(await as(["pulumi", "deployments", "acme/web/nope"]), 3, /stack 'acme\/web\/nope' not found/)
    expectUsageError(await as(["pulumi", "deploy", "acme/web/dev", "--repo", repo, "--branch", "main", "--env", "NOT_SET_ANYWHERE_42"]), "attestation pulumi deploy", /NOT_SET_ANYWHERE_42 is not set/)
    expectUsageError(await as(["pulumi", "deployments", "just-a-stack"]), "attestation pulumi deployments", /expected org\/project\/stack/)
    expectOneLineError(await cli(["pulumi", "stacks"], { ITL_URL: server.url, ITL_TOKEN: "wrong-token-123456" }), 4)
  }, 60_000)
})
