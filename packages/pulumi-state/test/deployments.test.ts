/**
 * The deployments API as a careless or hostile client meets it: every field
 * checked (400 naming it, nothing queued), the allowlist's prefix boundary,
 * option injection through the branch, 404 for an unknown stack, tokens
 * without the right, and the environment sealed at rest and never answered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TestServer } from "../../../test-support/server.js"
import { client, operatorToken } from "./client.js"
import { startDeployServer, scratch } from "./deploySupport.js"

let server: TestServer
let api: ReturnType<typeof client>
const base = scratch("api")
const allowed = `file://${base}/repos`
const D = "/api/stacks/acme/demo/dev/deployments"

const good = (over: Record<string, unknown> = {}) => ({
  operation: "update",
  source: { repoURL: `${allowed}/app.git`, branch: "main", repoDir: "infra" },
  ...over
})

const count = async () => (await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM extension_pulumi_state_deployments"))[0]!.n

beforeAll(async () => {
  // The runner must not take these: no CLI can run them (the binary is absent), and concurrency stays at one.
  server = await startDeployServer(`${allowed},file://${base}/exact.git`, { ITL_PULUMI_CLI: "/nonexistent/pulumi", ITL_PULUMI_DEPLOY_REPO_ALLOWLIST: `${allowed},file://${base}/exact.git` })
  api = client(server)
  expect((await api.post("/api/stacks/acme/demo", { stackName: "dev" })).status).toBe(200)
}, 120_000)
afterAll(async () => server?.stop())

describe("POST deployments: validation", () => {
  const cases: Array<[string, unknown, number, RegExp]> = [
    ["no body", undefined, 400, /JSON object/],
    ["not an object", [1], 400, /JSON object/],
    ["bad operation", good({ operation: "up" }), 400, /^operation: .*update, preview, refresh, destroy/],
    ["missing source", { operation: "update" }, 400, /^source: /],
    ["missing repoURL", good({ source: { branch: "main" } }), 400, /^source\.repoURL: is required/],
    ["missing branch", good({ source: { repoURL: `${allowed}/a.git` } }), 400, /^source\.branch: is required/],
    ["unknown field", good({ extra: 1 }), 400, /^extra: is not a known field/],
    ["unknown source field", good({ source: { repoURL: `${allowed}/a.git`, branch: "main", uploadPack: "x" } }), 400, /^source\.uploadPack: /],
    ["option injection in branch", good({ source: { repoURL: `${allowed}/a.git`, branch: "--upload-pack=touch /tmp/pwned" } }), 400, /^source\.branch: must not start with '-'/],
    ["dash branch", good({ source: { repoURL: `${allowed}/a.git`, branch: "-b" } }), 400, /^source\.branch: /],
    ["dotdot branch", good({ source: { repoURL: `${allowed}/a.git`, branch: "a..b" } }), 400, /^source\.branch: /],
    ["repoDir escapes", good({ source: { repoURL: `${allowed}/a.git`, branch: "main", repoDir: "../../etc" } }), 400, /^source\.repoDir: /],
    ["absolute repoDir", good({ source: { repoURL: `${allowed}/a.git`, branch: "main", repoDir: "/etc" } }), 400, /^source\.repoDir: /],
    ["env not object", good({ environment: ["A=1"] }), 400, /^environment: /],
    ["env bad name", good({ environment: { "A-B": "1" } }), 400, /^environment\.A-B: /],
    ["env not string", good({ environment: { A: 1 } }), 400, /^environment\.A: must be a string/],
    ["env reserved", good({ environment: { PULUMI_ACCESS_TOKEN: "x" } }), 400, /^environment\.PULUMI_ACCESS_TOKEN: is set by the runner/],
    ["credentials in URL", good({ source: { repoURL: "https://user:pw@git.example/org/a.git", branch: "main" } }), 400, /^source\.repoURL: must be/],
    ["ext transport", good({ source: { repoURL: "ext::sh -c touch% /tmp/pwned", branch: "main" } }), 400, /^source\.repoURL: must be/],
    ["dot segments", good({ source: { repoURL: `${allowed}/../elsewhere.git`, branch: "main" } }), 400, /^source\.repoURL: must be/],
    ["encoded dot segments", good({ source: { repoURL: `${allowed}/%2e%2e/elsewhere.git`, branch: "main" } }), 400, /^source\.repoURL: must be/],
    ["prefix trick", good({ source: { repoURL: `${allowed}-evil/app.git`, branch: "main" } }), 403, /^source\.repoURL: is not under a prefix of ITL_PULUMI_DEPLOY_REPO_ALLOWLIST/],
    ["exact entry extended", good({ source: { repoURL: `file://${base}/exact.git.evil`, branch: "main" } }), 403, /^source\.repoURL: is not under a prefix/],
    ["other scheme", good({ source: { repoURL: "https://github.com/pulumi/examples", branch: "main" } }), 403, /^source\.repoURL: is not under a prefix/]
  ]
  for (const [name, body, status, message] of cases) {
    it(`${name} → ${status} naming the field, nothing queued`, async () => {
      const before = await count()
      const answer = await api.post(D, body)
      expect(answer.status).toBe(status)
      expect(answer.body.code).toBe(status)
      expect(answer.body.message).toMatch(message)
      expect(await count()).toBe(before)
    })
  }

  it("malformed JSON → 400", async () => {
    const answer = await api.post(D, undefined, { raw: "{not json" })
    expect(answer.status).toBe(400)
    expect(await count()).toBe(0)
  })

  it("an unknown stack → 404; no token → 401; a token without pulumi_state:write → 403", async () => {
    expect((await api.post("/api/stacks/acme/demo/nope/deployments", good())).status).toBe(404)
    expect((await api.get("/api/stacks/acme/demo/nope/deployments")).status).toBe(404)
    expect((await api.post(D, good(), { auth: null })).status).toBe(401)
    expect((await api.post(D, good(), { auth: `Bearer ${server.adminToken}` })).status).toBe(401)
    const reader = await operatorToken(server, "reader", "operator", ["pulumi_state:read"])
    const refused = await api.post(D, good(), { auth: `token ${reader.token}` })
    expect(refused.status).toBe(403)
    expect((await api.get(D, { auth: `token ${reader.token}` })).status).toBe(200)
    expect(await count()).toBe(0)
  })
})

describe("POST deployments: accepted", () => {
  it("the exact allowlist entry and paths under a prefix are accepted; 202 with the deployment; the environment is sealed and never answered", async () => {
    const secret = "s3cr3t-value-" + Math.random().toString(36).slice(2)
    const answer = await api.post(D, good({ environment: { API_KEY: secret, REGION: "eu" } }))
    expect(answer.status).toBe(202)
    expect(answer.body).toMatchObject({
      org: "acme",
      project: "demo",
      stack: "dev",
      operation: "update",
      status: expect.stringMatching(/^(queued|running|failed)$/),
      source: { repoURL: `${allowed}/app.git`, branch: "main", repoDir: "infra" },
      environment: ["API_KEY", "REGION"]
    })
    expect(answer.text).not.toContain(secret)
    const exact = await api.post(D, good({ source: { repoURL: `file://${base}/exact.git`, branch: "release/1.0" } }))
    expect(exact.status).toBe(202)

    const rows = await server.sql<Record<string, unknown>>("SELECT * FROM extension_pulumi_state_deployments WHERE deployment_id = $1", [answer.body.id])
    expect(JSON.stringify(rows, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v))).not.toContain(secret)
    const audit = await server.sql<Record<string, unknown>>("SELECT * FROM audit_log")
    expect(JSON.stringify(audit)).not.toContain(secret)
    const events = await server.sql<Record<string, unknown>>("SELECT * FROM events WHERE event_type LIKE 'pulumi.deployment_%'")
    expect(events.map((e) => e.event_type)).toContain("pulumi.deployment_queued")
    expect(JSON.stringify(events)).not.toContain(secret)

    const one = await api.get(`${D}/${answer.body.id}`)
    expect(one.status).toBe(200)
    expect(one.text).not.toContain(secret)
    const list = await api.get(D)
    expect(list.body.total).toBe(2)
    expect((await api.get(`${D}/not-a-uuid`)).status).toBe(404)
    expect((await api.get(`${D}/00000000-0000-4000-8000-000000000000`)).status).toBe(404)
  })
})
