/**
 * `?limit=&offset=` and `total` on every list endpoint (docs/api.md): shared
 * secrets, a machine's secrets, a shared secret's access grants, and the
 * core's operator tokens — the same rules as /api/v1/machines.
 */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let admin: ReturnType<typeof api>
let machineIds: Array<string>
let sharedId: string

beforeAll(async () => {
  server = await startServer({
    extensions: [secretVault],
    env: { ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") }
  })
  admin = api(server, server.adminToken)
  machineIds = []
  for (let i = 0; i < 5; i++) {
    const id = (await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: `page-${i}` })).body.machine.id
    await admin.post(`/api/v1/machines/${id}/approve`)
    machineIds.push(id)
  }
  for (let i = 0; i < 5; i++) {
    expect((await admin.post("/api/v1/shared-secrets", { name: `shared-${i}`, value: `v${i}` })).status).toBe(201)
    expect((await admin.post(`/api/v1/secrets/machines/${machineIds[0]}/secrets`, { name: `m-${i}`, value: `v${i}` })).status).toBe(201)
    expect((await admin.post("/api/v1/operators/tokens", { name: `tok-${i}`, role: "viewer" })).status).toBe(201)
  }
  sharedId = (await admin.get("/api/v1/shared-secrets?limit=1")).body.secrets[0].shared_secret_id
  expect((await admin.post(`/api/v1/shared-secrets/${sharedId}/access`, { machine_ids: machineIds })).status).toBe(200)
})
afterAll(() => server?.stop())

const lists = () =>
  [
    ["shared secrets", "/api/v1/shared-secrets", "secrets", (x: any) => x.shared_secret_id, 5],
    ["machine secrets", `/api/v1/secrets/machines/${machineIds[0]}/secrets`, "secrets", (x: any) => x.secret_id, 5],
    ["access grants", `/api/v1/shared-secrets/${sharedId}/access`, "access_grants", (x: any) => x.machine_id, 5],
    ["operator tokens", "/api/v1/operators/tokens", "tokens", (x: any) => x.id, 6] // + the bootstrap admin
  ] as const

describe("pagination", () => {
  it("pages through every list with limit/offset, reporting the full total", async () => {
    for (const [what, path, key, idOf, total] of lists()) {
      const all = await admin.get(path)
      expect(all.status, what).toBe(200)
      expect(all.body, what).toMatchObject({ total, limit: 50, offset: 0 })
      expect(all.body[key]).toHaveLength(total)
      const first = await admin.get(`${path}?limit=2`)
      expect(first.body, what).toMatchObject({ total, limit: 2, offset: 0 })
      expect(first.body[key]).toHaveLength(2)
      const rest = await admin.get(`${path}?limit=2&offset=2`)
      expect(rest.body, what).toMatchObject({ total, limit: 2, offset: 2 })
      expect(rest.body[key].map(idOf)).toEqual(all.body[key].slice(2, 4).map(idOf))
      const past = await admin.get(`${path}?offset=${total}`)
      expect(past.body[key], what).toEqual([])
      expect(past.body.total).toBe(total)
    }
  })

  it("refuses bad limits and offsets naming the parameter", async () => {
    for (const [what, path] of lists()) {
      for (const [query, field] of [["limit=0", "limit"], ["limit=501", "limit"], ["limit=x", "limit"], ["offset=-1", "offset"]] as const) {
        const response = await admin.get(`${path}?${query}`)
        expect(response.status, `${what} ?${query}`).toBe(400)
        expect(response.body.message).toMatch(new RegExp(`^${field}: `))
      }
    }
  })
})

describe("unknown body fields", () => {
  it("are refused with 400 naming them, as additionalProperties: false says, and nothing is stored", async () => {
    const before = (await admin.get("/api/v1/shared-secrets")).body.total
    const created = await admin.post("/api/v1/shared-secrets", { name: "extra", value: "v", descripton: "typo" })
    expect(created.status).toBe(400)
    expect(created.body).toMatchObject({ error: "bad_request", details: { fields: ["descripton"] } })
    expect(created.body.message).toMatch(/^descripton: /)
    expect((await admin.get("/api/v1/shared-secrets")).body.total).toBe(before)
    const grant = await admin.post(`/api/v1/shared-secrets/${sharedId}/access`, { machine_ids: [machineIds[1]], all: true })
    expect(grant.status).toBe(400)
    expect(grant.body.message).toMatch(/^all: /)
    const machineSecret = await admin.post(`/api/v1/secrets/machines/${machineIds[1]}/secrets`, { name: "n", value: "v", scheme: "x" })
    expect(machineSecret.status).toBe(400)
    expect(machineSecret.body.message).toMatch(/^scheme: /)
    const spec = (await admin.get("/openapi.json")).body
    const body = spec.paths["/api/v1/shared-secrets"].post.requestBody.content["application/json"].schema
    const resolved = body.$ref ? spec.components.schemas[body.$ref.split("/").pop()] : body
    expect(resolved.additionalProperties).toBe(false)
  })
})
