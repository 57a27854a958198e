/**
 * The built `attestation` binary against a live server over a fresh database:
 * what an operator types, what they see, and the exit codes scripts rely on.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { cli, expectOneLineError, expectUsageError, json, type Run } from "./support.js"

let server: TestServer
let asAdmin: (args: ReadonlyArray<string>) => Promise<Run>
let as: (token: string, args: ReadonlyArray<string>) => Promise<Run>

beforeAll(async () => {
  server = await startServer()
  asAdmin = (args) => cli(args, { ITL_URL: server.url, ITL_TOKEN: server.adminToken })
  as = (token, args) => cli(args, { ITL_URL: server.url, ITL_TOKEN: token })
})

afterAll(async () => {
  await server?.stop()
})

describe("attestation CLI", () => {
  let node1: string
  let node2: string

  it("shows help and version, exit 0", async () => {
    const [help, version] = await Promise.all([cli(["--help"]), cli(["--version"])])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("machine approve")
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it("lists no extensions", async () => {
    expect(json(await asAdmin(["--output", "json", "extensions", "list"]))).toEqual({ extensions: [], total: 0 })
  })

  it("lists registered machines as JSON and as a table", async () => {
    const client = api(server)
    const first = await client.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "node-1" })
    const second = await client.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "node-2" })
    expect([first.status, second.status]).toEqual([201, 201])
    node1 = first.body.machine.id
    node2 = second.body.machine.id

    // Globals as flags before the subcommand, instead of the environment.
    const [asJson, asTable, filtered] = await Promise.all([
      cli(["--url", server.url, "--token", server.adminToken, "--output", "json", "machine", "list"]),
      asAdmin(["machine", "list"]),
      asAdmin(["-o", "json", "machine", "list", "--hostname", "node-2", "--status", "pending_approval"])
    ])
    const page = json(asJson)
    expect(page.total).toBe(2)
    expect(page.machines.map((m: { hostname: string }) => m.hostname).sort()).toEqual(["node-1", "node-2"])

    expect(asTable.code).toBe(0)
    const lines = asTable.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^ID\s+HOSTNAME\s+STATUS\s+EK_FINGERPRINT\s+REGISTERED_AT$/)
    const row = lines.find((line) => line.startsWith(node1))!
    expect(row).toMatch(/node-1\s+pending_approval\s+sha256:[0-9a-f]{16}…\s+\d{4}-\d\d-\d\dT/)
    expect(lines.at(-1)).toBe("2 machines")

    expect(json(filtered).machines.map((m: { id: string }) => m.id)).toEqual([node2])
  })

  it("shows one machine", async () => {
    const [asJson, asTable] = await Promise.all([asAdmin(["-o", "json", "machine", "get", node1]), asAdmin(["machine", "get", node1])])
    expect(json(asJson)).toMatchObject({ id: node1, hostname: "node-1", status: "pending_approval" })
    expect(asTable.stdout).toMatch(/^status\s+pending_approval$/m)
  })

  let operatorName: string

  it("walks a machine through approve, lock, unlock and revoke", async () => {
    const transition = async (...args: ReadonlyArray<string>) => json(await asAdmin(["-o", "json", "machine", ...args]))
    const approved = await transition("approve", node1, "--reason", "inventory checked")
    expect(approved).toMatchObject({ id: node1, status: "approved", status_reason: "inventory checked" })
    operatorName = approved.approved_by
    expect((await transition("lock", node1)).status).toBe("locked")
    expect((await transition("unlock", node1)).status).toBe("approved")
    expect((await transition("revoke", node1, "--reason", "decommissioned")).status).toBe("revoked")
  })

  it("refuses an illegal transition with the 409 message", async () => {
    expectOneLineError(await asAdmin(["machine", "approve", node1]), 5, /409/, /revoked/)
  })

  let viewerId: string
  let viewerToken: string

  it("creates a viewer token that can read but not approve", async () => {
    const created = json(await asAdmin(["-o", "json", "operator", "token", "create", "--name", "ci", "--role", "viewer"]))
    expect(created).toMatchObject({ name: "ci", role: "viewer", revoked_at: null })
    expect(created.token).toEqual(expect.any(String))
    viewerId = created.id
    viewerToken = created.token

    const [list, approve, table] = await Promise.all([
      as(viewerToken, ["-o", "json", "machine", "list"]),
      as(viewerToken, ["machine", "approve", node2]),
      asAdmin(["operator", "token", "create", "--name", "printed", "--role", "operator"])
    ])
    expect(json(list).total).toBe(2)
    expectOneLineError(approve, 4, /403/)
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^token: \S+$/m)
  })

  it("creates a token limited to scopes (--scopes a,b); an unknown scope is one 400 line", async () => {
    const created = json(
      await asAdmin(["-o", "json", "operator", "token", "create", "--name", "reader", "--role", "operator", "--scopes", "machines:read, audit:read"])
    )
    expect(created).toMatchObject({ name: "reader", role: "operator", scopes: ["audit:read", "machines:read"] })
    const [list, approve] = await Promise.all([as(created.token, ["-o", "json", "machine", "list"]), as(created.token, ["machine", "approve", node2])])
    expect(json(list).total).toBe(2)
    expectOneLineError(approve, 4, /403/, /machines:write/)
    expectOneLineError(await asAdmin(["operator", "token", "create", "--name", "x", "--role", "viewer", "--scopes", "machines:fly"]), 1, /400/, /scopes\[0\]/)
  })

  it("lists and revokes tokens; a revoked token gets a 401", async () => {
    const [listed, asTable] = await Promise.all([asAdmin(["-o", "json", "operator", "token", "list"]), asAdmin(["operator", "token", "list"])])
    const tokens = json(listed).tokens as ReadonlyArray<{ id: string; name: string; role: string }>
    expect(tokens.find((t) => t.id === viewerId)).toMatchObject({ name: "ci", role: "viewer" })
    expect(JSON.stringify(tokens)).not.toContain(viewerToken)
    expect(asTable.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+ROLE\s+SCOPES\s+CREATED_AT\s+LAST_USED_AT\s+REVOKED_AT$/)
    expect(asTable.stdout).toMatch(new RegExp(`^${viewerId}\\s+ci\\s+viewer\\s+all\\s`, "m"))

    const revoked = json(await asAdmin(["-o", "json", "operator", "token", "revoke", viewerId]))
    expect(revoked.revoked_at).not.toBeNull()
    expectOneLineError(await as(viewerToken, ["machine", "list"]), 4, /401/, /--token|ITL_TOKEN/)
  })

  it("records the machine actions in the audit log, with the operator as actor", async () => {
    const [asJson, asTable] = await Promise.all([
      asAdmin(["-o", "json", "audit", "list", "--target-type", "machine", "--target-id", node1]),
      asAdmin(["audit", "list", "--actor", operatorName, "--limit", "2"])
    ])
    const entries = json(asJson).entries as ReadonlyArray<{ action: string; actor: string; actor_kind: string }>
    const byOperator = entries.filter((e) => e.actor_kind === "operator")
    expect(byOperator.map((e) => e.action).sort()).toEqual(["machine.approved", "machine.locked", "machine.revoked", "machine.unlocked"])
    expect(new Set(byOperator.map((e) => e.actor))).toEqual(new Set([operatorName]))

    expect(asTable.code).toBe(0)
    const lines = asTable.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^ID\s+AT\s+ACTOR\s+ACTION\s+TARGET$/)
    expect(lines).toHaveLength(4)
    expect(lines[1]).toContain(operatorName)
    expect(lines.at(-1)).toMatch(/^2 of \d+ entries \(offset 0\)$/)
  })

  it("verifies the audit chain", async () => {
    const run = await asAdmin(["audit", "verify"])
    expect(run.code).toBe(0)
    expect(run.stdout.trim()).toMatch(/^valid: true, entries: \d+ \(sealed: \d+, pending: \d+\)$/)
  })

  it("deletes a machine", async () => {
    expect(json(await asAdmin(["-o", "json", "machine", "delete", node2]))).toEqual({ id: node2, deleted: true })
    expectOneLineError(await asAdmin(["machine", "get", node2]), 3, /404/, /not found/)
  })

  it("accepts global options after the command's own options too", async () => {
    expect(json(await asAdmin(["machine", "list", "--limit", "1", "--output", "json"])).machines).toHaveLength(1)
  })

  it("reports errors in one line", async () => {
    const [noToken, unreachable, badId, missingArg, unknownOption, unknownCommand] = await Promise.all([
      // Set but empty counts as no token.
      cli(["machine", "list"], { ITL_URL: server.url, ITL_TOKEN: "" }),
      cli(["--url", "http://127.0.0.1:1", "machine", "list"], { ITL_TOKEN: server.adminToken }),
      asAdmin(["machine", "get", "not-a-uuid"]),
      asAdmin(["machine", "get"]),
      asAdmin(["machine", "list", "--colour", "red"]),
      asAdmin(["machine", "aprove", node1])
    ])
    expectOneLineError(noToken, 4, /missing operator credentials/, /401/, /--token/, /ITL_TOKEN/)
    expectOneLineError(unreachable, 6, /cannot reach http:\/\/127\.0\.0\.1:1: connection refused/, /--url/, /ITL_URL/)
    // The argument is checked before anything is sent: a usage error naming it.
    expectUsageError(badId, "attestation machine get", /<id>: expected a UUID, got 'not-a-uuid'/)
    expectUsageError(missingArg, "attestation machine get", /<id>: required \(Machine id/)
    expectUsageError(unknownOption, "attestation machine list", /unknown option '--colour'/)
    expectUsageError(unknownCommand, "attestation machine", /unknown command 'aprove'/, /did you mean 'approve'/)
  })
})

describe("against a misbehaving server", () => {
  let fake: http.Server
  let url: string
  const answers = new Map<string, { status: number; body: string }>()

  beforeAll(async () => {
    fake = http.createServer((request, response) => {
      const answer = answers.get(request.url!.split("?")[0]!) ?? { status: 404, body: "{}" }
      response.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body)
    })
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve))
    url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise((resolve) => fake.close(resolve))
  })

  it("exits 1 after printing a broken audit chain", async () => {
    answers.set("/api/v1/audit/verify", { status: 200, body: JSON.stringify({ valid: false, entries: 7, first_invalid_id: 4, sealed: 6, pending: 1 }) })
    const run = await cli(["audit", "verify"], { ITL_URL: url, ITL_TOKEN: "t" })
    expect(run.code).toBe(1)
    expect(run.stdout.trim()).toBe("INVALID at entry 4 (entries: 7, sealed: 6, pending: 1)")
    expect(run.stderr).toBe("")
  })

  it("reports an undeclared status and a non-JSON body in one line", async () => {
    answers.set("/api/v1/machines", { status: 502, body: "<html>bad gateway</html>" })
    answers.set("/api/v1/extensions", { status: 500, body: JSON.stringify({ error: "internal_error", message: "internal server error" }) })
    const [gateway, internal] = await Promise.all([cli(["machine", "list"], { ITL_URL: url }), cli(["extensions", "list"], { ITL_URL: url })])
    expectOneLineError(gateway, 6, /Bad Gateway \(HTTP 502\)/)
    expectOneLineError(internal, 1, /internal server error \(HTTP 500\)/)
  })

  it("reports a declared status whose body it cannot decode (a server without the route) in one line", async () => {
    // The derived client reads the body to decode the endpoint's NotFound; the
    // report must not read the stream a second time (it used to hang there).
    const id = "00000000-0000-4000-8000-000000000001"
    for (const path of [`/api/v1/machines/${id}`, `/api/v1/secrets/machines/${id}/secrets`]) {
      answers.set(path, { status: 404, body: JSON.stringify({ error: "not_found", message: `no route for GET ${path}` }) })
    }
    const [core, extension] = await Promise.all([
      cli(["machine", "get", id], { ITL_URL: url, ITL_TOKEN: "t" }),
      cli(["secret", "list", id], { ITL_URL: url, ITL_TOKEN: "t" })
    ])
    expectOneLineError(core, 3, /no route for GET \/api\/v1\/machines\/\S+ \(HTTP 404\)$/)
    expectOneLineError(extension, 3, /no route for GET \/api\/v1\/secrets\/machines\/\S+ \(HTTP 404\)$/)
  })
})
