/**
 * Login and stack routes, as the CLI calls them: shapes it asserts on, the
 * 404/409/400 it treats specially, continuation-token listing, tags, and the
 * exact 400 for deleting a stack that still has resources.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TestServer } from "../../../test-support/server.js"
import { client, startPulumiServer } from "./client.js"

let server: TestServer
let api: ReturnType<typeof client>

beforeAll(async () => {
  server = await startPulumiServer({ ITL_PULUMI_ORG: "acme-org" })
  api = client(server)
}, 120_000)
afterAll(async () => server?.stop())

describe("login", () => {
  it("GET /api/user names the org as the user's login and its organization", async () => {
    const user = await api.get("/api/user")
    expect(user.status).toBe(200)
    expect(user.body).toMatchObject({ githubLogin: "acme-org", organizations: [{ githubLogin: "acme-org" }] })
    const org = await api.get("/api/user/organizations/default")
    expect(org.body).toEqual({ GitHubLogin: "acme-org", Messages: [] })
    const caps = await api.get("/api/capabilities")
    expect(caps.status).toBe(200)
    expect(Array.isArray(caps.body.capabilities)).toBe(true)
  })
})

describe("stacks", () => {
  it("creates, reads, refuses a second create with the CLI's 409, and answers 404 with code 404", async () => {
    const missing = await api.get("/api/stacks/acme-org/demo/dev")
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ code: 404, message: "stack 'acme-org/demo/dev' not found" })

    const created = await api.post("/api/stacks/acme-org/demo", { stackName: "dev", tags: { "pulumi:project": "demo", "pulumi:runtime": "nodejs" } })
    expect(created.status).toBe(200)
    expect(created.body).toEqual({})

    const again = await api.post("/api/stacks/acme-org/demo", { stackName: "dev" })
    expect(again.status).toBe(409)
    expect(again.body.code).toBe(409)
    expect(again.body.message).toContain("already exists")

    const stack = await api.get("/api/stacks/acme-org/demo/dev")
    expect(stack.status).toBe(200)
    expect(stack.body).toMatchObject({
      orgName: "acme-org",
      projectName: "demo",
      stackName: "dev",
      activeUpdate: "",
      tags: { "pulumi:project": "demo", "pulumi:runtime": "nodejs" },
      version: 0
    })
    expect(stack.body).not.toHaveProperty("config")

    const exported = await api.get("/api/stacks/acme-org/demo/dev/export")
    expect(exported.status).toBe(200)
    expect(exported.body).toMatchObject({ version: 3, deployment: { manifest: { time: "0001-01-01T00:00:00Z" } } })
  })

  it("refuses bad names and tags with a 400 naming the field, and stores nothing", async () => {
    const cases: Array<[string, unknown, string]> = [
      ["/api/stacks/acme-org/demo", { stackName: "bad name" }, "stackName"],
      ["/api/stacks/acme-org/demo", {}, "stackName"],
      ["/api/stacks/acme-org/demo", { stackName: 7 }, "stackName"],
      ["/api/stacks/acme-org/demo", { stackName: "ok", tags: { "bad tag": "x" } }, "tags.bad tag"],
      ["/api/stacks/acme-org/demo", { stackName: "ok", tags: { t: "x".repeat(257) } }, "tags.t"],
      ["/api/stacks/acme-org/demo", { stackName: "ok", tags: { t: 1 } }, "tags.t"],
      ["/api/stacks/a/demo", { stackName: "ok" }, "orgName"],
      ["/api/stacks/acme-org/de%20mo", { stackName: "ok" }, "projectName"]
    ]
    for (const [path, body, field] of cases) {
      const answer = await api.post(path, body)
      expect(answer.status, JSON.stringify(body)).toBe(400)
      expect(answer.body.code).toBe(400)
      expect(answer.body.message.startsWith(`${field}: `), answer.body.message).toBe(true)
    }
    const notJson = await api.post("/api/stacks/acme-org/demo", undefined, { raw: "{not json" })
    expect(notJson.status).toBe(400)
    expect(notJson.body.code).toBe(400)
    const rows = await server.sql(`SELECT name FROM extension_pulumi_state_stacks WHERE name = 'ok'`)
    expect(rows).toEqual([])
  })

  it("replaces all tags with PATCH tags", async () => {
    await api.post("/api/stacks/acme-org/demo", { stackName: "tagged", tags: { a: "1", b: "2" } })
    const patched = await api.patch("/api/stacks/acme-org/demo/tagged/tags", { a: "1", owner: "team-a" })
    expect(patched.status).toBeLessThan(300)
    expect((await api.get("/api/stacks/acme-org/demo/tagged")).body.tags).toEqual({ a: "1", owner: "team-a" })
    const bad = await api.patch("/api/stacks/acme-org/demo/tagged/tags", { "no spaces": "x" })
    expect(bad.status).toBe(400)
    expect((await api.get("/api/stacks/acme-org/demo/tagged")).body.tags).toEqual({ a: "1", owner: "team-a" })
  })

  it("lists stacks by project, page by page with a continuation token", async () => {
    for (let i = 0; i < 105; i++) await api.post("/api/stacks/acme-org/many", { stackName: `s${String(i).padStart(3, "0")}` })
    const seen: Array<string> = []
    let token: string | undefined
    let pages = 0
    do {
      const page = await api.get(`/api/user/stacks?project=many${token === undefined ? "" : `&continuationToken=${token}`}`)
      expect(page.status).toBe(200)
      for (const s of page.body.stacks) {
        expect(s).toMatchObject({ orgName: "acme-org", projectName: "many" })
        expect(s).not.toHaveProperty("lastUpdate")
        seen.push(s.stackName)
      }
      token = page.body.continuationToken ?? undefined
      pages++
    } while (token !== undefined)
    expect(pages).toBe(2)
    expect(seen.length).toBe(105)
    expect(new Set(seen).size).toBe(105)
    const bogus = await api.get("/api/user/stacks?continuationToken=%%%")
    expect(bogus.status).toBe(400)
    expect(bogus.body.message).toMatch(/^continuationToken: /)
  })

  it("deletes a stack with no resources; with resources, only with force=true (the CLI's exact 400 otherwise)", async () => {
    await api.post("/api/stacks/acme-org/demo", { stackName: "gone" })
    expect((await api.del("/api/stacks/acme-org/demo/gone?force=false")).status).toBe(204)
    expect((await api.get("/api/stacks/acme-org/demo/gone")).status).toBe(404)

    await api.post("/api/stacks/acme-org/demo", { stackName: "full" })
    await server.sql(`UPDATE extension_pulumi_state_stacks SET resource_count = 3 WHERE name = 'full'`)
    const refused = await api.del("/api/stacks/acme-org/demo/full?force=false")
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({ code: 400, message: "Bad Request: Stack still contains resources." })
    expect((await api.get("/api/stacks/acme-org/demo/full")).status).toBe(200)
    expect((await api.del("/api/stacks/acme-org/demo/full?force=true")).status).toBe(204)
    expect((await api.get("/api/stacks/acme-org/demo/full")).status).toBe(404)
    const audit = await server.sql<{ action: string; target_id: string; details: unknown }>(
      `SELECT action, target_id, details FROM audit_log WHERE action = 'pulumi_state.stack_deleted' ORDER BY id`
    )
    expect(audit.map((a) => a.target_id)).toEqual(["acme-org/demo/gone", "acme-org/demo/full"])
  })

  it("renames a stack; its state's service secrets provider follows, and its secrets still decrypt", async () => {
    await api.post("/api/stacks/acme-org/demo", { stackName: "old" })
    const secret = (await api.post("/api/stacks/acme-org/demo/old/encrypt", { plaintext: Buffer.from("pw").toString("base64") })).body.ciphertext
    const provider = (project: string, stack: string) => ({ type: "service", state: { url: "http://x", owner: "acme-org", project, stack } })
    const imported = await api.post("/api/stacks/acme-org/demo/old/import", {
      version: 3,
      deployment: { manifest: { time: "t", magic: "", version: "" }, secrets_providers: provider("demo", "old"), resources: [] }
    })
    expect(imported.status).toBe(200)
    expect((await api.post("/api/stacks/acme-org/demo/old/rename", { newName: "new" })).status).toBe(204)
    expect((await api.get("/api/stacks/acme-org/demo/old")).status).toBe(404)
    expect((await api.get("/api/stacks/acme-org/demo/new")).status).toBe(200)
    expect((await api.get("/api/stacks/acme-org/demo/new/export")).body.deployment.secrets_providers).toEqual(provider("demo", "new"))
    const opened = await api.post("/api/stacks/acme-org/demo/new/decrypt", { ciphertext: secret })
    expect(Buffer.from(opened.body.plaintext, "base64").toString()).toBe("pw")

    // Not while an update runs: 409, nothing renamed.
    const id = (await api.post("/api/stacks/acme-org/demo/new/update", {})).body.updateID
    expect((await api.post(`/api/stacks/acme-org/demo/new/update/${id}`, {})).status).toBe(200)
    const busy = await api.post("/api/stacks/acme-org/demo/new/rename", { newName: "newer" })
    expect(busy.status).toBe(409)
    expect((await api.get("/api/stacks/acme-org/demo/new")).status).toBe(200)
    expect(await server.sql(`SELECT action FROM audit_log WHERE action = 'pulumi_state.stack_renamed'`)).toHaveLength(1)
  })
})
