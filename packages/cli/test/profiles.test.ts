/**
 * Saved profiles (`attestation login` / `logout`) through the built binary,
 * each test with its own XDG_CONFIG_HOME: the file is private (0600 in a 0700
 * directory), later commands use it, flags and ITL_* variables win over it,
 * --profile / ITL_PROFILE pick another, a file others can read is refused,
 * and a token the server refuses is never saved.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { cli, cliWithInput, expectOneLineError, json, ok, scratchDir, type Run } from "./support.js"

let server: TestServer
let viewerToken: string
let machineId: string

beforeAll(async () => {
  server = await startServer()
  const created = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "viewer", role: "viewer" })
  expect(created.status).toBe(201)
  viewerToken = created.body.token
  const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "profiled" })
  machineId = registered.body.machine.id
})

afterAll(async () => {
  await server?.stop()
})

/** A fresh config home, and the CLI run with it (and nothing else set). */
const home = () => {
  const config = scratchDir("config")
  const file = path.join(config, "itl-attestation", "config.json")
  const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Run> => cli(args, { XDG_CONFIG_HOME: config, ...env })
  const withInput = (args: ReadonlyArray<string>, stdin: string, env: Record<string, string> = {}) =>
    cliWithInput(args, { XDG_CONFIG_HOME: config, ...env }, stdin)
  const saved = () => JSON.parse(fs.readFileSync(file, "utf8")) as { profiles: Record<string, { url: string; token: string }> }
  return { config, file, run, withInput, saved }
}

const mode = (file: string) => fs.statSync(file).mode & 0o777

const closedUrl = async () => {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  return `http://127.0.0.1:${port}`
}

describe("attestation login", () => {
  it("saves the URL and the token from ITL_TOKEN, privately; later commands need neither", async () => {
    const h = home()
    const login = await h.run(["login", "--url", server.url], { ITL_TOKEN: server.adminToken })
    expect(ok(login).trim()).toBe(`logged in to ${server.url}: profile 'default' saved in ${h.file}`)
    expect(login.stdout).not.toContain(server.adminToken)
    expect(mode(h.file)).toBe(0o600)
    expect(mode(path.dirname(h.file))).toBe(0o700)
    expect(h.saved()).toEqual({ profiles: { default: { url: server.url, token: server.adminToken } } })
    const listed = json(await h.run(["-o", "json", "machine", "list"]))
    expect(listed.machines.map((m: { id: string }) => m.id)).toContain(machineId)
  })

  it("takes the token on stdin", async () => {
    const h = home()
    ok(await h.withInput(["login", "--url", server.url], `${server.adminToken}\n`))
    expect(h.saved().profiles.default).toEqual({ url: server.url, token: server.adminToken })
    expect(json(await h.run(["-o", "json", "machine", "get", machineId])).id).toBe(machineId)
  })

  it("lets flags and ITL_* variables win over the profile", async () => {
    const h = home()
    ok(await h.run(["login", "--url", server.url], { ITL_TOKEN: server.adminToken }))
    const elsewhere = await closedUrl()
    const [urlVariable, urlFlag, tokenVariable, tokenFlag] = await Promise.all([
      h.run(["machine", "list"], { ITL_URL: elsewhere }),
      h.run(["machine", "list", "--url", elsewhere]),
      h.run(["machine", "approve", machineId], { ITL_TOKEN: viewerToken }),
      h.run(["machine", "approve", machineId, "--token", "itl_op_wrong"])
    ])
    expectOneLineError(urlVariable, 6, new RegExp(`cannot reach ${elsewhere}`))
    expectOneLineError(urlFlag, 6, new RegExp(`cannot reach ${elsewhere}`))
    expectOneLineError(tokenVariable, 4, /\(HTTP 403\)/)
    expectOneLineError(tokenFlag, 4, /\(HTTP 401\)/)
    expect(json(await h.run(["-o", "json", "machine", "get", machineId])).status).toBe("pending_approval")
  })

  it("keeps several profiles; --profile and ITL_PROFILE pick one; an unknown one is an error", async () => {
    const h = home()
    ok(await h.run(["login", "--url", server.url], { ITL_TOKEN: server.adminToken }))
    ok(await h.run(["login", "--url", server.url, "--profile", "readonly"], { ITL_TOKEN: viewerToken }))
    expect(Object.keys(h.saved().profiles).sort()).toEqual(["default", "readonly"])
    const [byFlag, byVariable, unknown, unknownVariable] = await Promise.all([
      h.run(["machine", "lock", machineId, "--profile", "readonly"]),
      h.run(["machine", "lock", machineId], { ITL_PROFILE: "readonly" }),
      h.run(["--profile", "prod", "machine", "list"]),
      h.run(["machine", "list"], { ITL_PROFILE: "prod" })
    ])
    expectOneLineError(byFlag, 4, /\(HTTP 403\)/)
    expectOneLineError(byVariable, 4, /\(HTTP 403\)/)
    for (const run of [unknown, unknownVariable]) {
      expectOneLineError(run, 1, new RegExp(`no profile named 'prod' in ${h.file.replace(/[.]/g, "\\.")}; create it with 'attestation login --profile prod'`))
    }
    // The default profile still has the admin token.
    expect(json(await h.run(["-o", "json", "machine", "get", machineId])).id).toBe(machineId)
  })

  it("refuses a profile file other users can read, naming chmod 600", async () => {
    const h = home()
    ok(await h.run(["login", "--url", server.url], { ITL_TOKEN: server.adminToken }))
    for (const loose of [0o644, 0o640, 0o604]) {
      fs.chmodSync(h.file, loose)
      const run = await h.run(["machine", "list"])
      expectOneLineError(run, 1, /can be read by other users/, new RegExp(`chmod 600 ${h.file.replace(/[.]/g, "\\.")}`))
    }
    // Private again: used again.
    fs.chmodSync(h.file, 0o600)
    ok(await h.run(["machine", "list"]))
  })

  it("saves nothing when the server refuses the token, or cannot be reached", async () => {
    const h = home()
    const [refused, unreachable, empty] = await Promise.all([
      h.run(["login", "--url", server.url], { ITL_TOKEN: "itl_op_not-valid" }),
      h.run(["login", "--url", await closedUrl()], { ITL_TOKEN: server.adminToken }),
      h.withInput(["login", "--url", server.url], "\n")
    ])
    expectOneLineError(refused, 4, /\(HTTP 401\)/)
    expectOneLineError(unreachable, 6, /cannot reach/)
    expect(empty.code).toBe(2)
    expect(empty.stderr).toMatch(/^attestation: the token is empty/)
    expect(fs.existsSync(h.file)).toBe(false)
    // An existing profile is left as it was by a refused login.
    ok(await h.run(["login", "--url", server.url], { ITL_TOKEN: server.adminToken }))
    const before = fs.readFileSync(h.file, "utf8")
    expectOneLineError(await h.run(["login", "--url", server.url], { ITL_TOKEN: "itl_op_not-valid" }), 4, /\(HTTP 401\)/)
    expect(fs.readFileSync(h.file, "utf8")).toBe(before)
  })

  it("accepts a token whose scopes do not cover listing machines (403 is not a bad token)", async () => {
    const created = await api(server, server.adminToken).post("/api/v1/operators/tokens", { name: "auditor", role: "operator", scopes: ["audit:read"] })
    expect(created.status).toBe(201)
    const h = home()
    ok(await h.run(["login", "--url", server.url], { ITL_TOKEN: created.body.token }))
    expect(h.saved().profiles.default!.token).toBe(created.body.token)
  })
})

describe("attestation logout", () => {
  it("removes the profile and its token; an unknown profile is exit 3", async () => {
    const h = home()
    ok(await h.run(["login", "--url", server.url], { ITL_TOKEN: server.adminToken }))
    ok(await h.run(["login", "--url", server.url, "--profile", "readonly"], { ITL_TOKEN: viewerToken }))
    expect(ok(await h.run(["logout"])).trim()).toBe(`profile 'default' removed from ${h.file}`)
    expect(h.saved()).toEqual({ profiles: { readonly: { url: server.url, token: viewerToken } } })
    expect(fs.readFileSync(h.file, "utf8")).not.toContain(server.adminToken)
    expect(mode(h.file)).toBe(0o600)
    // Without the profile the CLI is back to no token.
    expectOneLineError(await h.run(["machine", "list"], { ITL_URL: server.url }), 4, /\(HTTP 401\)/)
    expectOneLineError(await h.run(["logout"]), 3, /no profile named 'default'/)
    ok(await h.run(["logout", "--profile", "readonly"]))
    expect(h.saved()).toEqual({ profiles: {} })
  })
})
