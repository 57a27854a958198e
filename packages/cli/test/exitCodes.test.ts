/**
 * The exit codes scripts branch on (src/exitCodes.ts, docs/cli.md), each
 * caused for real against a live server: 3 not found, 4 not authenticated or
 * not allowed, 5 a state that forbids the change, 6 nothing listening.
 */
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { cli, expectOneLineError, json, type Run } from "./support.js"

let server: TestServer
let asAdmin: (args: ReadonlyArray<string>) => Promise<Run>
let as: (token: string, args: ReadonlyArray<string>) => Promise<Run>
let machineId: string

beforeAll(async () => {
  server = await startServer()
  asAdmin = (args) => cli(args, { ITL_URL: server.url, ITL_TOKEN: server.adminToken })
  as = (token, args) => cli(args, { ITL_URL: server.url, ITL_TOKEN: token })
  const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "exit-codes" })
  expect(registered.status).toBe(201)
  machineId = registered.body.machine.id
})

afterAll(async () => {
  await server?.stop()
})

/** A port nothing listens on: bound, then closed. */
const closedPort = async () => {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  return port
}

describe("exit codes", () => {
  it("0 on success", async () => {
    expect(json(await asAdmin(["-o", "json", "machine", "get", machineId])).id).toBe(machineId)
  })

  it("3 for an unknown machine (404)", async () => {
    const unknown = "00000000-0000-4000-8000-000000000000"
    const [get, approve, remove] = await Promise.all([
      asAdmin(["machine", "get", unknown]),
      asAdmin(["machine", "approve", unknown]),
      asAdmin(["machine", "delete", unknown])
    ])
    for (const run of [get, approve, remove]) expectOneLineError(run, 3, /not found/, /\(HTTP 404\)/)
  })

  it("4 without a token, with a wrong or revoked one (401), and with one lacking the scope (403)", async () => {
    const created = json(await asAdmin(["-o", "json", "operator", "token", "create", "--name", "soon-revoked", "--role", "operator"]))
    const narrow = json(await asAdmin(["-o", "json", "operator", "token", "create", "--name", "reader", "--role", "operator", "--scopes", "machines:read"]))
    expect(json(await asAdmin(["-o", "json", "operator", "token", "revoke", created.id])).revoked_at).not.toBeNull()
    const [none, wrong, revoked, lacking, viewerWrite] = await Promise.all([
      cli(["machine", "list"], { ITL_URL: server.url }),
      as("itl_op_not-a-real-token", ["machine", "list"]),
      as(created.token, ["machine", "list"]),
      as(narrow.token, ["machine", "approve", machineId]),
      as(narrow.token, ["operator", "token", "list"])
    ])
    expectOneLineError(none, 4, /\(HTTP 401\)/, /--token/, /ITL_TOKEN/)
    expectOneLineError(wrong, 4, /\(HTTP 401\)/)
    expectOneLineError(revoked, 4, /\(HTTP 401\)/)
    expectOneLineError(lacking, 4, /\(HTTP 403\)/, /machines:write/)
    expectOneLineError(viewerWrite, 4, /\(HTTP 403\)/)
    // The refusals changed nothing.
    expect(json(await asAdmin(["-o", "json", "machine", "get", machineId])).status).toBe("pending_approval")
  })

  it("5 for approving a revoked machine (409)", async () => {
    expect(json(await asAdmin(["-o", "json", "machine", "revoke", machineId, "--reason", "gone"])).status).toBe("revoked")
    const [approve, unlock] = await Promise.all([asAdmin(["machine", "approve", machineId]), asAdmin(["machine", "unlock", machineId])])
    expectOneLineError(approve, 5, /revoked/, /\(HTTP 409\)/)
    expectOneLineError(unlock, 5, /\(HTTP 409\)/)
    expect(json(await asAdmin(["-o", "json", "machine", "get", machineId])).status).toBe("revoked")
  })

  it("6 when nothing listens, suggesting --url and ITL_URL", async () => {
    const port = await closedPort()
    const [flag, variable] = await Promise.all([
      cli(["--url", `http://127.0.0.1:${port}`, "machine", "list"], { ITL_TOKEN: "t" }),
      cli(["machine", "list"], { ITL_URL: `http://127.0.0.1:${port}/`, ITL_TOKEN: "t" })
    ])
    for (const run of [flag, variable]) {
      expectOneLineError(run, 6, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}: connection refused`), /--url/, /ITL_URL/)
    }
  })

  it("6 for a name that does not resolve", async () => {
    expectOneLineError(await cli(["--url", "http://no-such-host.invalid:9000", "machine", "list"], { ITL_TOKEN: "t" }), 6, /no-such-host\.invalid/, /--url|ITL_URL/)
  })
})
