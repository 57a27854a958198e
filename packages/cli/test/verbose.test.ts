/**
 * `--verbose`: each HTTP request (`> METHOD url`, its headers) and its answer
 * (`< status`) on stderr, with credentials shown as `[redacted]`: the operator
 * token, a machine's EK fingerprint header, and request bodies (a secret's
 * value) never appear anywhere in the output.
 */
import { secretVault } from "@itl-attestation/secret-vault"
import * as crypto from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { cli, cliWithInput, json, type Run } from "./support.js"

let server: TestServer
let machine: { id: string; ek_fingerprint: string }

beforeAll(async () => {
  server = await startServer({
    extensions: [secretVault],
    env: { ITL_MACHINE_AUTH: "ek-fingerprint-header", ITL_SHARED_SECRET_MASTER_KEY: crypto.randomBytes(32).toString("hex") }
  })
  const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "verbose-node" })
  expect(registered.status).toBe(201)
  machine = registered.body.machine
  expect((await api(server, server.adminToken).post(`/api/v1/machines/${machine.id}/approve`)).status).toBe(200)
})

afterAll(async () => {
  await server?.stop()
})

/** Neither stream holds any of `secrets`. */
const expectHidden = (run: Run, ...secrets: ReadonlyArray<string>) => {
  for (const secret of secrets) {
    expect(run.stdout).not.toContain(secret)
    expect(run.stderr).not.toContain(secret)
  }
}

describe("--verbose", () => {
  it("traces the request and its status on stderr, the token redacted; stdout stays clean", async () => {
    const [traced, quiet] = await Promise.all([
      cli(["--verbose", "-o", "json", "machine", "list", "--limit", "5"], { ITL_URL: server.url, ITL_TOKEN: server.adminToken }),
      cli(["-o", "json", "machine", "list", "--limit", "5"], { ITL_URL: server.url, ITL_TOKEN: server.adminToken })
    ])
    expect(traced.code).toBe(0)
    const lines = traced.stderr.trimEnd().split("\n")
    expect(lines[0]).toMatch(new RegExp(`^> GET ${server.url}/api/v1/machines\\?(limit=5&offset=0|offset=0&limit=5)$`))
    expect(lines).toContain("> authorization: [redacted]")
    expect(lines.at(-1)).toMatch(/^< 200 OK in \d+ ms$/)
    // The same result as without --verbose.
    expect(json({ ...quiet, stderr: "" })).toEqual(JSON.parse(traced.stdout))
    expectHidden(traced, server.adminToken)
  })

  it("never shows a token given as a flag, nor the token of a refused request", async () => {
    const wrong = `itl_op_${crypto.randomBytes(16).toString("hex")}`
    const [flag, refused] = await Promise.all([
      cli(["machine", "get", machine.id, "--token", server.adminToken, "--verbose"], { ITL_URL: server.url }),
      cli(["machine", "list", "--verbose"], { ITL_URL: server.url, ITL_TOKEN: wrong })
    ])
    expect(flag.code).toBe(0)
    expect(flag.stderr).toMatch(/^< 200 /m)
    expectHidden(flag, server.adminToken)
    expect(refused.code).toBe(4)
    expect(refused.stderr).toMatch(/^< 401 Unauthorized in \d+ ms$/m)
    expect(refused.stderr).toContain("> authorization: [redacted]")
    expectHidden(refused, wrong)
  })

  it("shows no request body: a secret's value stays out of the trace", async () => {
    const value = `value-${crypto.randomBytes(12).toString("hex")}`
    const run = await cli(["secret", "create", machine.id, "--name", "traced", "--value", value, "--verbose"], {
      ITL_URL: server.url,
      ITL_TOKEN: server.adminToken
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(new RegExp(`^> POST ${server.url}/api/v1/secrets/machines/${machine.id}/secrets$`, "m"))
    expect(run.stderr).toMatch(/^< 201 Created in \d+ ms$/m)
    expectHidden(run, value, server.adminToken)
  })

  it("redacts the EK fingerprint header, a machine's credential in the compatibility mode", async () => {
    const run = await cli(["secret", "get", machine.id, "traced", "--ek-fingerprint", machine.ek_fingerprint, "--verbose"], { ITL_URL: server.url })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain("> x-ek-fingerprint: [redacted]")
    expect(run.stderr).not.toContain(machine.ek_fingerprint)
  })

  it("does not show the token login checks", async () => {
    const run = await cliWithInput(["login", "--url", server.url, "--verbose"], {}, `${server.adminToken}\n`)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain("> authorization: [redacted]")
    expectHidden(run, server.adminToken)
  })

  it("says when no answer came", async () => {
    const run = await cli(["--verbose", "machine", "list"], { ITL_URL: "http://127.0.0.1:1", ITL_TOKEN: server.adminToken })
    expect(run.code).toBe(6)
    expect(run.stderr).toMatch(/^> GET http:\/\/127\.0\.0\.1:1\/api\/v1\/machines/m)
    expect(run.stderr).toMatch(/^< no response after \d+ ms: /m)
    expectHidden(run, server.adminToken)
  })
})
