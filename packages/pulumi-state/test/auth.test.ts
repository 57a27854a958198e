/**
 * Who may call the Pulumi API: ITL_PULUMI_TOKEN, operator tokens by their
 * pulumi_state scopes, tokens an admin limited to one org/project — and what
 * everyone else gets (401/403 with `{code, message}`, nothing changed).
 * Also the pipeline: gzip bodies, corrupt gzip, a gzip bomb over the limit.
 */
import * as zlib from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer } from "../../../test-support/server.js"
import { pulumiState } from "@itl-attestation/pulumi-state"
import { call, client, operatorToken, PULUMI_TOKEN, startPulumiServer } from "./client.js"

let server: TestServer
let api: ReturnType<typeof client>

beforeAll(async () => {
  server = await startPulumiServer()
  api = client(server)
  expect((await api.post("/api/stacks/itlusions/app", { stackName: "dev" })).status).toBe(200)
  expect((await api.post("/api/stacks/itlusions/other", { stackName: "dev" })).status).toBe(200)
  expect((await api.post("/api/stacks/elsewhere/app", { stackName: "dev" })).status).toBe(200)
}, 120_000)
afterAll(async () => server?.stop())

const stackCount = async () => (await server.sql<{ n: number }>(`SELECT count(*)::int AS n FROM extension_pulumi_state_stacks`))[0]!.n

describe("credentials", () => {
  it("answers 401 {code, message} to no token, a wrong token, the Bearer scheme, an admin token in the wrong scheme", async () => {
    const before = await stackCount()
    for (const auth of [null, "token wrong-token-0123456789", `Bearer ${PULUMI_TOKEN}`, `token ${PULUMI_TOKEN}x`, PULUMI_TOKEN, `Bearer ${server.adminToken}`, "token "]) {
      for (const [method, path, body] of [
        ["GET", "/api/user", undefined],
        ["GET", "/api/stacks/itlusions/app/dev", undefined],
        ["POST", "/api/stacks/itlusions/app", { stackName: "intruder" }],
        ["DELETE", "/api/stacks/itlusions/app/dev?force=true", undefined]
      ] as const) {
        const answer = await call(server, method, path, body, { auth })
        expect(answer.status, `${auth} ${method} ${path}`).toBe(401)
        expect(answer.body.code).toBe(401)
        expect(answer.text).not.toContain(PULUMI_TOKEN)
      }
    }
    expect(await stackCount()).toBe(before)
  })

  it("accepts an operator token by its scopes: read-only gets 403 on writes, a token without pulumi scopes 403 everywhere", async () => {
    const reader = await operatorToken(server, "pulumi-reader", "operator", ["pulumi_state:read"])
    const writer = await operatorToken(server, "pulumi-writer", "operator", ["pulumi_state:read", "pulumi_state:write"])
    const other = await operatorToken(server, "machines-only", "operator", ["machines:read"])
    const viewer = await operatorToken(server, "a-viewer", "viewer")
    const as = (token: string) => client(server, { auth: `token ${token}` })

    expect((await as(reader.token).get("/api/stacks/itlusions/app/dev")).status).toBe(200)
    const refused = await as(reader.token).post("/api/stacks/itlusions/app", { stackName: "nope" })
    expect(refused.status).toBe(403)
    expect(refused.body).toEqual({ code: 403, message: "this action needs the pulumi_state:write scope; the token pulumi-reader does not have it" })
    for (const token of [other.token, viewer.token]) {
      expect((await as(token).get("/api/user")).status).toBe(403)
      expect((await as(token).get("/api/stacks/itlusions/app/dev")).status).toBe(403)
    }
    expect((await as(writer.token).post("/api/stacks/itlusions/app", { stackName: "by-writer" })).status).toBe(200)
    expect((await api.get("/api/stacks/itlusions/app/by-writer")).status).toBe(200)
    expect((await as(reader.token).get("/api/stacks/itlusions/app/nope")).status).toBe(404)
  })

  it("limits a token to an org or a project through the operator endpoint; elsewhere 403, listing filtered", async () => {
    const team = await operatorToken(server, "team-app", "operator", ["pulumi_state:read", "pulumi_state:write"])
    const admin = { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" }
    const set = await fetch(`${server.url}/api/v1/pulumi/token-limits/${team.id}`, { method: "PUT", headers: admin, body: JSON.stringify({ org: "itlusions", project: "app" }) })
    expect(set.status).toBe(200)
    expect(await set.json()).toMatchObject({ token_id: team.id, token_name: "team-app", org: "itlusions", project: "app" })
    const bad = await fetch(`${server.url}/api/v1/pulumi/token-limits/${team.id}`, { method: "PUT", headers: admin, body: JSON.stringify({ org: "x" }) })
    expect(bad.status).toBe(400)
    // Only admins set limits: the team's own token cannot lift its limit.
    const self = await fetch(`${server.url}/api/v1/pulumi/token-limits/${team.id}`, { method: "DELETE", headers: { authorization: `Bearer ${team.token}` } })
    expect(self.status).toBe(403)

    const teamApi = client(server, { auth: `token ${team.token}` })
    expect((await teamApi.get("/api/stacks/itlusions/app/dev")).status).toBe(200)
    for (const path of ["/api/stacks/itlusions/other/dev", "/api/stacks/elsewhere/app/dev"]) {
      const answer = await teamApi.get(path)
      expect(answer.status, path).toBe(403)
      expect(answer.body).toEqual({ code: 403, message: "the token team-app is limited to itlusions/app" })
    }
    expect((await teamApi.post("/api/stacks/itlusions/other", { stackName: "x" })).status).toBe(403)
    expect((await teamApi.post("/api/stacks/itlusions/app/dev/rename", { newProject: "other" })).status).toBe(403)
    expect((await teamApi.del("/api/stacks/elsewhere/app/dev?force=true")).status).toBe(403)
    expect((await api.get("/api/stacks/elsewhere/app/dev")).status).toBe(200)
    const listed = await teamApi.get("/api/user/stacks")
    expect(new Set(listed.body.stacks.map((s: any) => `${s.orgName}/${s.projectName}`))).toEqual(new Set(["itlusions/app"]))

    const limits = await (await fetch(`${server.url}/api/v1/pulumi/token-limits`, { headers: admin })).json()
    expect(limits.limits.map((l: any) => l.token_name)).toEqual(["team-app"])
    expect((await fetch(`${server.url}/api/v1/pulumi/token-limits/${team.id}`, { method: "DELETE", headers: admin })).status).toBe(204)
    expect((await teamApi.get("/api/stacks/itlusions/other/dev")).status).toBe(200)
  })
})

describe("request bodies", () => {
  it("accepts gzip, refuses corrupt gzip (400) and a gzip bomb over the limit (413), storing nothing", async () => {
    const before = await stackCount()
    expect((await api.post("/api/stacks/itlusions/app", { stackName: "zipped" }, { gzip: true })).status).toBe(200)
    const corrupt = await api.post("/api/stacks/itlusions/app", undefined, { raw: Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]), headers: { "content-encoding": "gzip" } })
    expect(corrupt.status).toBe(400)
    expect(corrupt.body).toEqual({ code: 400, message: "request body is not valid gzip" })
    // 300 MiB of zeros inflate past the 256 MiB limit; on the wire it is about 300 KiB.
    const bomb = zlib.gzipSync(Buffer.alloc(300 * 1024 * 1024), { level: 9 })
    const answer = await api.post("/api/stacks/itlusions/app/dev/import", undefined, { raw: bomb, headers: { "content-encoding": "gzip" } })
    expect(answer.status).toBe(413)
    expect(answer.body.code).toBe(413)
    expect(await stackCount()).toBe(before + 1)
    expect((await api.get("/api/stacks/itlusions/app/dev")).body.version).toBe(0)
  })
})

describe("ITL_PULUMI_ENABLED=false", () => {
  it("answers 404 on every Pulumi route, even to the right token", async () => {
    const off = await startServer({ extensions: [pulumiState], env: { ITL_PULUMI_TOKEN: PULUMI_TOKEN, ITL_PULUMI_ENABLED: "false" } })
    try {
      for (const [method, path] of [["GET", "/api/user"], ["GET", "/api/capabilities"], ["POST", "/api/stacks/itlusions/app"]] as const) {
        const answer = await call(off, method, path, method === "POST" ? { stackName: "x" } : undefined)
        expect(answer.status).toBe(404)
        expect(answer.body.code).toBe(404)
      }
    } finally {
      await off.stop()
    }
  })

  it("a malformed ITL_PULUMI_TOKEN or ITL_PULUMI_ORG stops the start naming the variable", async () => {
    await expect(startServer({ extensions: [pulumiState], env: { ITL_PULUMI_TOKEN: "short" } })).rejects.toThrow(/ITL_PULUMI_TOKEN/)
    await expect(startServer({ extensions: [pulumiState], env: { ITL_PULUMI_ORG: "no spaces allowed" } })).rejects.toThrow(/ITL_PULUMI_ORG/)
  })
})
