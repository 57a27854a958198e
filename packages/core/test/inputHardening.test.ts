/**
 * Hostile input through real HTTP: NUL characters and unpaired surrogates in
 * any text, JSON nested thousands of levels deep, chunked bodies over the
 * limit, and huge invalid values. Never a 5xx, never a dropped connection,
 * never a stored change, and error bodies stay small.
 */
import * as http from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
let admin: ReturnType<typeof api>
let anonymous: ReturnType<typeof api>
let machineId: string

const auditCount = async () => (await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM audit_log"))[0]!.n
const tokenCount = async () => (await server.sql<{ n: number }>("SELECT count(*)::int AS n FROM operator_tokens"))[0]!.n

beforeAll(async () => {
  server = await startServer()
  admin = api(server, server.adminToken)
  anonymous = api(server)
  const registered = await anonymous.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "hardening-1" })
  machineId = registered.body.machine.id
})
afterAll(() => server?.stop())

/** `[[[…1…]]]` `levels` deep. */
const nested = (levels: number) => "[".repeat(levels) + "1" + "]".repeat(levels)

describe("NUL characters and unpaired surrogates", () => {
  const bad = [
    ["NUL", "a\u0000b", /must not contain NUL characters/],
    ["an unpaired high surrogate", "a\ud800b", /must not contain unpaired surrogates/],
    ["an unpaired low surrogate", "a\udc00b", /must not contain unpaired surrogates/]
  ] as const

  for (const [what, text, message] of bad) {
    it(`refuses ${what} in a body field with 400 naming the field, storing nothing`, async () => {
      const [tokens, audit] = [await tokenCount(), await auditCount()]
      const name = await admin.post("/api/v1/operators/tokens", { name: text, role: "viewer" })
      expect(name.status).toBe(400)
      expect(name.body).toMatchObject({ error: "bad_request", details: { fields: ["name"] } })
      expect(name.body.message).toMatch(new RegExp(`^name: ${message.source}`))

      const reason = await admin.post(`/api/v1/machines/${machineId}/lock`, { reason: text })
      expect(reason.status).toBe(400)
      expect(reason.body.message).toMatch(/^reason: /)

      // Nested inside free-form JSON (an unauthenticated endpoint), and in an object key.
      const hardware = await anonymous.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "h-x", hardware: { cpu: text } })
      expect(hardware.status).toBe(400)
      expect(hardware.body.message).toMatch(/^hardware\.cpu: /)
      const key = await anonymous.post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "h-y", hardware: { [text]: 1 } })
      expect(key.status).toBe(400)
      expect(key.body.message).toMatch(/^hardware: property names /)

      expect(await tokenCount()).toBe(tokens)
      expect(await auditCount()).toBe(audit)
      expect((await admin.get(`/api/v1/machines/${machineId}`)).body.status).toBe("pending_approval")
    })
  }

  it("refuses NUL in every audit filter and in /machines?hostname, naming the parameter", async () => {
    for (const param of ["actor", "action", "target_type", "target_id"]) {
      const response = await admin.get(`/api/v1/audit?${param}=a%00b`)
      expect(response.status).toBe(400)
      expect(response.body).toMatchObject({ error: "bad_request", details: { fields: [param] } })
      expect(response.body.message).toBe(`${param}: must not contain NUL characters`)
    }
    const hostname = await admin.get("/api/v1/machines?hostname=%00")
    expect(hostname.status).toBe(400)
    expect(hostname.body.message).toBe("hostname: must not contain NUL characters")
  })

  it("refuses query and path text that is not UTF-8 (an encoded surrogate) instead of altering it", async () => {
    const query = await admin.get("/api/v1/machines?hostname=a%ED%A0%80b")
    expect(query.status).toBe(400)
    expect(query.body.message).toBe("hostname: must be valid UTF-8")
    const path = await admin.get("/api/v1/machines/%00")
    expect(path.status).toBe(400)
    expect(path.body.message).toBe("path: must not contain NUL characters")
  })

  it("refuses a body that is not valid UTF-8", async () => {
    const response = await fetch(`${server.url}/api/v1/operators/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('","role":"viewer"}')])
    })
    expect(response.status).toBe(400)
    expect((await response.json()).message).toBe("request body is not valid UTF-8")
  })
})

describe("deeply nested JSON", () => {
  it("is refused with 400 naming the limit, on authenticated and unauthenticated endpoints alike", async () => {
    const targets = [
      ["POST", "/api/v1/machines/register", anonymous, `{"ek_public":"x","hostname":"h","hardware":{"a":${nested(3000)}}}`],
      ["POST", "/api/v1/attest/challenge", anonymous, `{"machine_id":${nested(3000)}}`],
      ["POST", "/api/v1/operators/tokens", admin, `{"name":${nested(3000)},"role":"viewer"}`],
      ["POST", `/api/v1/machines/${machineId}/approve`, admin, `{"reason":${nested(3000)}}`],
      ["PUT", "/api/v1/pcr-policy", admin, `{"pcrs":${nested(3000)}}`]
    ] as const
    for (const [method, path, client, body] of targets) {
      const response = await client.call(method, path, body, { "content-type": "application/json" })
      expect(response.status, `${method} ${path}`).toBe(400)
      expect(response.body.message).toBe("request body nests arrays/objects deeper than 32 levels")
    }
  })

  it("accepts nesting up to the limit, and brackets inside strings do not count", async () => {
    const register = (hostname: string, hardware: unknown) =>
      anonymous.call("POST", "/api/v1/machines/register", JSON.stringify({ ek_public: fakeEkPem(), hostname, hardware }), {
        "content-type": "application/json"
      })
    // 30 levels pass the body's depth limit and reach the endpoint, whose own rule for `hardware` (depth 4) answers.
    const deep = await register("deep-ok", { a: JSON.parse(nested(30)) })
    expect(deep.status).toBe(400)
    expect(deep.body.message).toMatch(/^hardware: must not nest objects or arrays more than 4 levels deep/)
    // Brackets inside strings are text, not nesting.
    const brackets = await register("brackets-ok", { s: "[".repeat(5000), t: "{".repeat(5000) })
    expect(brackets.status, brackets.text).toBe(201)
  })
})

describe("large bodies", () => {
  /** A chunked upload (no Content-Length) of `bytes`; resolves with the answer, or rejects if the connection drops. */
  const chunkedPost = (path: string, bytes: number) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(server.url + path)
      const request = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } },
        (response) => {
          let body = ""
          response.setEncoding("utf8")
          response.on("data", (chunk) => (body += chunk))
          response.on("end", () => resolve({ status: response.statusCode!, body }))
        }
      )
      request.on("error", reject)
      const chunk = Buffer.alloc(64 * 1024, "a")
      let sent = 0
      const write = () => {
        while (sent < bytes) {
          sent += chunk.length
          if (!request.write(chunk)) return void request.once("drain", write)
        }
        request.end()
      }
      request.write('{"ek_public":"')
      write()
    })

  it("answers a chunked body over the limit with 413 instead of dropping the connection", async () => {
    const response = await chunkedPost("/api/v1/machines/register", 3 * 1024 * 1024)
    expect(response.status).toBe(413)
    expect(JSON.parse(response.body)).toMatchObject({ error: "payload_too_large" })
  })

  /** As a plain client does it: a fresh connection (Connection: close), the whole chunked body written at once. */
  const chunkedAtOnce = (method: string, path: string, bytes: number) =>
    new Promise<{ status: number } | { error: string }>((resolve) => {
      const url = new URL(server.url + path)
      const request = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method,
          agent: false,
          headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json", "transfer-encoding": "chunked" }
        },
        (response) => {
          response.resume()
          response.on("end", () => resolve({ status: response.statusCode! }))
          response.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
        }
      )
      request.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
      const body = Buffer.alloc(bytes, "a")
      for (let i = 0; i < body.length; i += 65_536) request.write(body.subarray(i, i + 65_536))
      request.end()
    })

  it("answers a large chunked upload on a closing connection, whatever the method, instead of resetting it", async () => {
    for (let round = 0; round < 3; round++) {
      expect(await chunkedAtOnce("GET", "/api/v1/machines", 900_000)).toEqual({ status: 200 })
      expect(await chunkedAtOnce("GET", "/api/v1/machines", 1_200_000)).toEqual({ status: 413 })
      expect(await chunkedAtOnce("DELETE", "/api/v1/pcr-policy", 1_200_000)).toEqual({ status: 413 })
      expect(await chunkedAtOnce("POST", "/api/v1/machines/register", 1_200_000)).toEqual({ status: 413 })
    }
  })

  it("keeps the error for a large invalid value small", async () => {
    const response = await anonymous.post("/api/v1/machines/register", { ek_public: 1, hostname: ["x".repeat(900_000)] })
    expect(response.status).toBe(400)
    expect(response.text.length).toBeLessThan(8 * 1024)
    expect(response.body.error).toBe("bad_request")
    // A huge object key on the path to a refused value is not echoed in full either.
    const longKey = await anonymous.post("/api/v1/machines/register", { ek_public: "x", hostname: "h", hardware: { ["k".repeat(500_000)]: "a\u0000" } })
    expect(longKey.status).toBe(400)
    expect(longKey.text.length).toBeLessThan(8 * 1024)
    const many = await admin.post("/api/v1/operators/tokens", { name: Array.from({ length: 5000 }, () => "y".repeat(150)), role: "viewer" })
    expect(many.status).toBe(400)
    expect(many.text.length).toBeLessThan(8 * 1024)
  })
})
