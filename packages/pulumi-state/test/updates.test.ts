/**
 * The update lifecycle over raw HTTP: create → start → checkpoints (full,
 * verbatim with sequence numbers, delta with hash check) → events → complete,
 * the lease token's reach, one running update per stack, expired leases.
 */
import * as crypto from "node:crypto"
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

const S = (stack: string) => `/api/stacks/itlusions/proj/${stack}`

const newStack = async (stack: string) => {
  const created = await api.post("/api/stacks/itlusions/proj", { stackName: stack })
  expect(created.status).toBe(200)
}

const program = (dryRun: boolean) => ({
  name: "proj",
  runtime: "nodejs",
  main: "",
  description: "",
  options: { localPolicyPackPaths: null, color: "raw", dryRun, parallel: 16 },
  config: { "proj:region": { string: "eu-west-1", secret: false, object: false } },
  metadata: { message: "hello", environment: { "exec.kind": "cli" } }
})

/** create + start; the lease token and version. */
const begin = async (stack: string, kind = "update", dryRun = false) => {
  const created = await api.post(`${S(stack)}/${kind}`, program(dryRun))
  expect(created.status).toBe(200)
  const id = created.body.updateID as string
  const started = await api.post(`${S(stack)}/update/${id}`, { tags: { "pulumi:project": "proj" }, journalVersion: 1 })
  return { id, started }
}

const deployment = (resources: number) => ({
  manifest: { time: "2026-01-01T00:00:00Z", magic: "m", version: "v3.0.0" },
  resources: Array.from({ length: resources }, (_, i) => ({ urn: `urn:pulumi:dev::proj::test:Thing::r${i}`, custom: true, type: "test:Thing" }))
})

const lease = (token: string) => ({ auth: `update-token ${token}` })

describe("the lifecycle of an update", () => {
  it("runs create → start → full checkpoint → events → complete, bumps the version and keeps it for export", async () => {
    await newStack("life")
    const { id, started } = await begin("life")
    expect(started.status).toBe(200)
    expect(started.body.version).toBe(1)
    expect(typeof started.body.token).toBe("string")
    expect(started.body.token.length).toBeGreaterThan(20)
    expect(started.body.tokenExpiration).toBeGreaterThan(Date.now() / 1000)
    expect(started.body).not.toHaveProperty("journalVersion")
    const token = started.body.token as string

    expect((await api.get(S("life"))).body.activeUpdate).toBe(id)
    // While it runs, the listing says so the only way the CLI reads it: lastUpdate 0.
    const busy = (await api.get("/api/user/stacks?project=proj")).body.stacks.find((s: any) => s.stackName === "life")
    expect(busy).toMatchObject({ lastUpdate: 0 })
    expect((await api.get(`${S("life")}/update/${id}`)).body).toMatchObject({ status: "running", continuationToken: id })

    const cp = await api.patch(`${S("life")}/update/${id}/checkpoint`, { isInvalid: false, version: 3, deployment: deployment(2) }, { ...lease(token), gzip: true })
    expect(cp.status).toBe(200)
    const events = await api.post(
      `${S("life")}/update/${id}/events/batch`,
      { events: [{ sequence: 0, timestamp: 1, stdoutEvent: { message: "hi" } }, { sequence: 1, timestamp: 2, summaryEvent: { resourceChanges: { create: 2 } } }] },
      { ...lease(token), gzip: true }
    )
    expect(events.status).toBe(200)
    const renewed = await api.post(`${S("life")}/update/${id}/renew_lease`, { token: "", duration: 300 }, lease(token))
    expect(renewed.status).toBe(200)
    expect(renewed.body.token).toBe(token)

    expect((await api.post(`${S("life")}/update/${id}/complete`, { status: "succeeded" }, lease(token))).status).toBe(200)
    // A retried complete is fine.
    expect((await api.post(`${S("life")}/update/${id}/complete`, { status: "succeeded" }, lease(token))).status).toBe(200)

    const stack = (await api.get(S("life"))).body
    expect(stack).toMatchObject({ version: 1, activeUpdate: "" })
    expect((await api.get(`${S("life")}/update/${id}`)).body).toEqual({ status: "succeeded", events: [] })
    const exported = await api.get(`${S("life")}/export`)
    expect(exported.body.deployment.resources.length).toBe(2)
    expect((await api.get(`${S("life")}/export/1`)).body).toEqual(exported.body)
    expect((await api.get(`${S("life")}/export/2`)).status).toBe(404)
    const listed = (await api.get("/api/user/stacks?project=proj")).body.stacks.find((s: any) => s.stackName === "life")
    expect(listed).toMatchObject({ resourceCount: 2 })
    // A preview running does not make the stack look busy.
    await begin("life", "preview", true)
    expect((await api.get("/api/user/stacks?project=proj")).body.stacks.find((s: any) => s.stackName === "life").lastUpdate).toBeGreaterThan(0)
    expect(listed.lastUpdate).toBeGreaterThan(0)

    const emitted = await server.sql<{ event_type: string; data: any }>(`SELECT event_type, data FROM events WHERE event_type LIKE 'pulumi.%'`)
    expect(emitted).toEqual([{ event_type: "pulumi.update_succeeded", data: { org: "itlusions", project: "proj", stack: "life", update_id: id, kind: "update", version: 1 } }])
  })

  it("a preview gets a token and the current version, saves no state and does not bump the version", async () => {
    await newStack("prev")
    const { id, started } = await begin("prev", "preview", true)
    expect(started.body).toMatchObject({ version: 0 })
    const token = started.body.token as string
    const cp = await api.patch(`${S("prev")}/update/${id}/checkpoint`, { version: 3, deployment: deployment(1) }, lease(token))
    expect(cp.status).toBe(400)
    expect((await api.post(`${S("prev")}/update/${id}/complete`, { status: "succeeded" }, lease(token))).status).toBe(200)
    expect((await api.get(S("prev"))).body.version).toBe(0)
    expect((await server.sql(`SELECT * FROM extension_pulumi_state_versions v JOIN extension_pulumi_state_stacks s USING (stack_id) WHERE s.name = 'prev'`)).length).toBe(0)
  })
})

describe("verbatim and delta checkpoints", () => {
  it("keeps the exact bytes, applies deltas checked by SHA-256, treats a replayed sequence as done and refuses a gap", async () => {
    await newStack("delta")
    const { id, started } = await begin("delta")
    const token = started.body.token as string
    // Spacing JSON.stringify would not reproduce: the stored text must be these bytes.
    const text = `{"version":3,"deployment":{"manifest":{"time":"t","magic":"","version":""},  "resources":[{"urn":"a"}]}}`
    const verbatim = (seq: number, untyped: string) =>
      api.patch(`${S("delta")}/update/${id}/checkpointverbatim`, undefined, {
        ...lease(token),
        gzip: true,
        raw: `{"version":3,"untypedDeployment":${untyped},"sequenceNumber":${seq}}`
      })
    expect((await verbatim(1, text)).status).toBe(200)
    expect((await api.get(`${S("delta")}/export`)).text).toBe(text)

    const at = text.indexOf(`"a"`)
    const next = text.slice(0, at) + `"b"},{"urn":"c"` + text.slice(at + 3)
    const delta = (seq: number, hash: string) =>
      api.patch(
        `${S("delta")}/update/${id}/checkpointdelta`,
        {
          version: 3,
          checkpointHash: hash,
          sequenceNumber: seq,
          deploymentDelta: [{ Span: { uri: "", start: { line: 1, column: 0, offset: at }, end: { line: 1, column: 0, offset: at + 3 } }, NewText: `"b"},{"urn":"c"` }]
        },
        { ...lease(token), gzip: true }
      )
    const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex")

    const bad = await delta(2, sha("something else"))
    expect(bad.status).toBe(400)
    expect(bad.body.message).toMatch(/^checkpointHash: /)
    expect((await api.get(`${S("delta")}/export`)).text).toBe(text)

    expect((await delta(2, sha(next))).status).toBe(200)
    expect((await api.get(`${S("delta")}/export`)).text).toBe(next)
    // The same sequence number again (a retry): OK, and nothing applied twice.
    expect((await delta(2, sha(next))).status).toBe(200)
    expect((await verbatim(2, text)).status).toBe(200)
    expect((await api.get(`${S("delta")}/export`)).text).toBe(next)
    // A gap in the sequence: 400 naming the field, nothing stored.
    const gap = await verbatim(5, text)
    expect(gap.status).toBe(400)
    expect(gap.body.message).toMatch(/^sequenceNumber: /)
    expect((await api.get(`${S("delta")}/export`)).text).toBe(next)
    expect((await server.sql<{ resource_count: number }>(`SELECT resource_count FROM extension_pulumi_state_stacks WHERE name = 'delta'`))[0]!.resource_count).toBe(2)
  })
})

describe("the lease token", () => {
  it("is refused on another update, after the update finished, after the lease ran out, and in place of an API token", async () => {
    await newStack("a1")
    await newStack("a2")
    const one = await begin("a1")
    const two = await begin("a2")
    const t1 = one.started.body.token as string
    const t2 = two.started.body.token as string
    const cp = { version: 3, deployment: deployment(1) }

    const other = await api.patch(`${S("a1")}/update/${one.id}/checkpoint`, cp, lease(t2))
    expect(other.status).toBe(401)
    expect(other.body.code).toBe(401)
    // A lease token says nothing about stacks or updates that are not its own: 401, never 404 or 400.
    for (const path of [
      `${S("nosuch")}/update/${one.id}/checkpoint`,
      `/api/stacks/x/proj/a1/update/${one.id}/checkpoint`,
      `${S("a1")}/update/00000000-0000-4000-8000-000000000000/checkpoint`,
      `${S("a1")}/update/not-a-uuid/checkpoint`
    ]) {
      const answer = await api.patch(path, cp, lease(t1))
      expect(answer.status, path).toBe(401)
      expect(answer.body).toEqual({ code: 401, message: "the update token does not belong to this update" })
    }
    // No token at all, or the API token on an update-token route.
    expect((await api.patch(`${S("a1")}/update/${one.id}/checkpoint`, cp)).status).toBe(401)
    expect((await api.patch(`${S("a1")}/update/${one.id}/checkpoint`, cp, { auth: null })).status).toBe(401)
    // The lease token is no API token.
    expect((await api.get(S("a1"), lease(t1))).status).toBe(401)
    expect((await api.post(`${S("a1")}/update`, program(false), lease(t1))).status).toBe(401)

    expect((await api.post(`${S("a1")}/update/${one.id}/complete`, { status: "failed" }, lease(t1))).status).toBe(200)
    const finished = await api.patch(`${S("a1")}/update/${one.id}/checkpoint`, cp, lease(t1))
    expect(finished.status).toBe(403)
    expect((await api.post(`${S("a1")}/update/${one.id}/renew_lease`, { duration: 300 }, lease(t1))).status).toBe(403)

    await server.sql(`UPDATE extension_pulumi_state_updates SET lease_expires_at = now() - interval '1 second' WHERE update_id = $1`, [two.id])
    const expired = await api.post(`${S("a2")}/update/${two.id}/renew_lease`, { duration: 300 }, lease(t2))
    expect(expired.status).toBe(403)
    expect((await api.patch(`${S("a2")}/update/${two.id}/checkpoint`, cp, lease(t2))).status).toBe(403)
    expect((await api.get(S("a2"))).body.activeUpdate).toBe("")
    // The expired lease frees the stack: the next update starts.
    const three = await begin("a2")
    expect(three.started.status).toBe(200)
    expect((await server.sql<{ status: string }>(`SELECT status FROM extension_pulumi_state_updates WHERE update_id = $1`, [two.id]))[0]!.status).toBe("failed")
  })
})

describe("one running update per stack", () => {
  it("answers 409 to the second start while the first runs, and lets the next start after complete", async () => {
    await newStack("busy")
    const first = await begin("busy")
    const second = await begin("busy")
    expect(second.started.status).toBe(409)
    expect(second.started.body.code).toBe(409)
    await api.post(`${S("busy")}/update/${first.id}/complete`, { status: "succeeded" }, lease(first.started.body.token))
    const third = await begin("busy")
    expect(third.started.status).toBe(200)
    expect(third.started.body.version).toBe(2)
  })

  it("lets exactly one of many concurrent starts win", async () => {
    await newStack("race")
    const ids: Array<string> = []
    for (let i = 0; i < 6; i++) ids.push((await api.post(`${S("race")}/update`, program(false))).body.updateID)
    const answers = await Promise.all(ids.map((id) => api.post(`${S("race")}/update/${id}`, {})))
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409])
    const running = await server.sql(`SELECT u.update_id FROM extension_pulumi_state_updates u JOIN extension_pulumi_state_stacks s USING (stack_id) WHERE s.name = 'race' AND u.status = 'running'`)
    expect(running.length).toBe(1)
    expect((await api.get(S("race"))).body.version).toBe(1)
  })

  it("cancel (API token) ends the running update and frees the stack", async () => {
    await newStack("cancel")
    const first = await begin("cancel")
    expect((await api.post(`${S("cancel")}/update/${first.id}/cancel`)).status).toBe(200)
    expect((await api.get(`${S("cancel")}/update/${first.id}`)).body.status).toBe("cancelled")
    expect((await api.patch(`${S("cancel")}/update/${first.id}/checkpoint`, { version: 3, deployment: deployment(0) }, lease(first.started.body.token))).status).toBe(403)
    expect((await begin("cancel")).started.status).toBe(200)
  })
})
