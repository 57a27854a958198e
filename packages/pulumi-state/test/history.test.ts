/** Import (with its audit row and its 409 while an update runs) and the history's paging. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TestServer } from "../../../test-support/server.js"
import { client, startPulumiServer } from "./client.js"

let server: TestServer
let api: ReturnType<typeof client>

beforeAll(async () => {
  server = await startPulumiServer()
  api = client(server)
}, 120_000)
afterAll(async () => server?.stop())

const S = (stack: string) => `/api/stacks/itlusions/hist/${stack}`

const state = (n: number) =>
  `{"version":3,"deployment":{"manifest":{"time":"t","magic":"","version":""},"resources":[${Array.from({ length: n }, (_, i) => `{"urn":"r${i}"}`).join(",")}]}}`

const run = async (stack: string, kind: string, result: "succeeded" | "failed") => {
  const id = (await api.post(`${S(stack)}/${kind}`, { config: { "hist:k": { string: "v", secret: false, object: false } }, metadata: { message: `m-${kind}` } })).body.updateID
  const token = (await api.post(`${S(stack)}/update/${id}`, {})).body.token
  await api.post(`${S(stack)}/update/${id}/complete`, { status: result }, { auth: `update-token ${token}` })
  return id as string
}

describe("import", () => {
  it("replaces the state as sent (gzip), as a new version with an audit row; the status poll ends at once", async () => {
    await api.post("/api/stacks/itlusions/hist", { stackName: "imp" })
    const imported = await api.post(`${S("imp")}/import`, undefined, { raw: state(2), gzip: true })
    expect(imported.status).toBe(200)
    const id = imported.body.updateId as string
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(await api.get(`${S("imp")}/update/${id}`).then((a) => a.body)).toEqual({ status: "succeeded", events: [] })
    expect((await api.get(`${S("imp")}/export`)).text).toBe(state(2))
    expect((await api.get(`${S("imp")}/export/1`)).text).toBe(state(2))
    expect((await api.get(S("imp"))).body.version).toBe(1)
    const audit = await server.sql<{ action: string; target_id: string; details: any }>(`SELECT action, target_id, details FROM audit_log WHERE action = 'pulumi_state.stack_imported'`)
    expect(audit.length).toBe(1)
    expect(audit[0]!.target_id).toBe("itlusions/hist/imp")
    expect(JSON.stringify(audit[0]!.details)).not.toContain("urn")
  })

  it("refuses a body that is no deployment (400 naming the field) and an import while an update runs (409); nothing changes", async () => {
    await api.post("/api/stacks/itlusions/hist", { stackName: "imp2" })
    for (const [body, field] of [[{ version: 3 }, "deployment"], [{ version: 9, deployment: {} }, "version"], [{ version: 3, deployment: [] }, "deployment"]] as const) {
      const answer = await api.post(`${S("imp2")}/import`, body)
      expect(answer.status).toBe(400)
      expect(answer.body.message.startsWith(`${field}: `)).toBe(true)
    }
    const id = (await api.post(`${S("imp2")}/update`, {})).body.updateID
    expect((await api.post(`${S("imp2")}/update/${id}`, {})).status).toBe(200)
    const busy = await api.post(`${S("imp2")}/import`, undefined, { raw: state(1) })
    expect(busy.status).toBe(409)
    const stack = (await api.get(S("imp2"))).body
    expect(stack.version).toBe(1)
    expect((await api.get(`${S("imp2")}/export`)).body.deployment.resources).toBeUndefined()
  })
})

describe("history", () => {
  it("lists real updates newest first, pageSize per page, with kind, result, config and message; previews left out", async () => {
    await api.post("/api/stacks/itlusions/hist", { stackName: "h" })
    await run("h", "update", "succeeded")
    await run("h", "preview", "succeeded")
    await run("h", "refresh", "failed")
    await run("h", "destroy", "succeeded")
    const first = await api.get(`${S("h")}/updates?pageSize=2&page=1`)
    expect(first.status).toBe(200)
    expect(first.body.updates.map((u: any) => [u.kind, u.version, u.result])).toEqual([["destroy", 3, "succeeded"], ["refresh", 2, "failed"]])
    expect(first.body.updates[0]).toMatchObject({ message: "m-destroy", config: { "hist:k": { string: "v", secret: false, object: false } } })
    expect(first.body.updates[0].startTime).toBeGreaterThan(0)
    expect(first.body.updates[0].endTime).toBeGreaterThanOrEqual(first.body.updates[0].startTime)
    const second = await api.get(`${S("h")}/updates?pageSize=2&page=2`)
    expect(second.body.updates.map((u: any) => u.kind)).toEqual(["update"])
    expect((await api.get(`${S("h")}/updates?pageSize=2&page=3`)).body.updates).toEqual([])
    for (const q of ["pageSize=0", "pageSize=x", "page=0", "pageSize=100000"]) {
      const bad = await api.get(`${S("h")}/updates?${q}`)
      expect(bad.status, q).toBe(400)
      expect(bad.body.message).toMatch(/^page(Size)?: /)
    }
  })
})
