/**
 * Each API's pipeline applies to its own routes only: the test extension
 * `plain_errors` answers in `{code, message}`, accepts gzip and 4 MiB bodies;
 * the core keeps `{error, message, details?}`, its 1 MiB limit, no gzip and
 * its Bearer challenge. And every request, whichever API serves it, gets an
 * id and is seen by the request observers with its route template.
 */
import { RequestObservers, type ObservedRequest } from "@itl-attestation/core"
import { Effect } from "effect"
import * as zlib from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import { plainErrorsExtension } from "../../../test-support/testExtension.js"

let server: TestServer
const observed: Array<ObservedRequest> = []

beforeAll(async () => {
  server = await startServer({ extensions: [plainErrorsExtension] })
  // An observer for the rest of the server's life, added through the library API.
  await server.run(
    Effect.flatMap(RequestObservers, (observers) =>
      Effect.forkDaemon(Effect.scoped(Effect.zipRight(observers.observe((request) => Effect.sync(() => void observed.push(request))), Effect.never)))
    )
  )
})
afterAll(() => server?.stop())

const send = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })

const echo = "/api/v1/plain/echo"
const register = "/api/v1/machines/register"

describe("a pipeline per API", () => {
  it("answers schema mismatches in each API's own format", async () => {
    const plain = await send(echo, JSON.stringify({ text: 42 }))
    expect(plain.status).toBe(400)
    expect(await plain.json()).toEqual({ code: 400, message: "invalid request: text" })

    const core = await send(register, JSON.stringify({ ek_public: 42, hostname: "h" }))
    expect(core.status).toBe(400)
    expect(await core.json()).toMatchObject({ error: "bad_request", message: expect.stringMatching(/^ek_public: /), details: { fields: ["ek_public"] } })
  })

  it("applies each API's body limit and renders its 413 in its format", async () => {
    const twoMiB = JSON.stringify({ text: "x".repeat(2 * 1024 * 1024 - 20) })
    const accepted = await send(echo, twoMiB)
    expect(accepted.status).toBe(200)
    expect(await accepted.json()).toEqual({ length: 2 * 1024 * 1024 - 20 })

    const core = await send(register, twoMiB)
    expect(core.status).toBe(413)
    expect(await core.json()).toEqual({ error: "payload_too_large", message: "request body exceeds 1048576 bytes" })

    const over = await send(echo, JSON.stringify({ text: "x".repeat(5 * 1024 * 1024) }))
    expect(over.status).toBe(413)
    expect(await over.json()).toEqual({ code: 413, message: "request body exceeds 4194304 bytes" })
  })

  it("accepts gzip bodies only where the pipeline says so, and bounds what they inflate to", async () => {
    const body = zlib.gzipSync(JSON.stringify({ text: "compressed" }))
    const plain = await send(echo, body, { "content-encoding": "gzip" })
    expect(plain.status).toBe(200)
    expect(await plain.json()).toEqual({ length: "compressed".length })

    const core = await send(register, zlib.gzipSync(JSON.stringify({ ek_public: fakeEkPem(), hostname: "gz" })), { "content-encoding": "gzip" })
    expect(core.status).toBe(400)
    expect((await core.json()).message).toMatch(/Content-Encoding gzip is not accepted/)

    // 64 MiB of zeros compress to about 64 KiB: refused at the limit, not after inflating it all.
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024))
    expect(bomb.length).toBeLessThan(200 * 1024)
    const refused = await send(echo, bomb, { "content-encoding": "gzip" })
    expect(refused.status).toBe(413)
    expect(await refused.json()).toEqual({ code: 413, message: "request body exceeds 4194304 bytes" })

    const garbage = await send(echo, Buffer.from("not gzip at all"), { "content-encoding": "gzip" })
    expect(garbage.status).toBe(400)
    expect(await garbage.json()).toEqual({ code: 400, message: "request body is not valid gzip" })
  })

  it("sends the core's authentication challenge on the core's 401s only", async () => {
    const core = await fetch(server.url + "/api/v1/machines")
    expect(core.status).toBe(401)
    expect(core.headers.get("www-authenticate")).toBe('Bearer realm="attestation"')
  })

  it("keeps the core's format for unknown routes", async () => {
    const response = await api(server).get("/api/v1/plain/nowhere")
    expect(response.status).toBe(404)
    expect(response.body).toEqual({ error: "not_found", message: "no route for GET /api/v1/plain/nowhere" })
  })
})

describe("every request", () => {
  it("gets an id: the client's when it is a short token, a new one otherwise", async () => {
    const given = await fetch(server.url + "/healthz", { headers: { "x-request-id": "abc-123.x:y_z" } })
    expect(given.headers.get("x-request-id")).toBe("abc-123.x:y_z")
    for (const hostile of ["has space", "a".repeat(129), "quote\"d", "<script>"]) {
      const replaced = await fetch(server.url + "/healthz", { headers: { "x-request-id": hostile } })
      expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
    }
    const a = await fetch(server.url + "/healthz")
    const b = await fetch(server.url + "/healthz")
    expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"))
  })

  it("is seen by the request observers with its route template, never its raw path", async () => {
    const admin = api(server, server.adminToken)
    const registered = await api(server).post(register, { ek_public: fakeEkPem(), hostname: "observed-1" })
    const id = registered.body.machine.id as string
    const got = await admin.get(`/api/v1/machines/${id}`)
    const requestId = got.headers.get("x-request-id")
    await admin.get("/api/v1/definitely/not/here")
    await send(echo, JSON.stringify({ text: "hi" }))
    const find = (predicate: (r: ObservedRequest) => boolean) => observed.find(predicate)
    expect(find((r) => r.requestId === requestId)).toMatchObject({ method: "GET", route: "/api/v1/machines/:id", status: 200 })
    expect(find((r) => r.route === "unmatched" && r.status === 404)).toBeDefined()
    expect(find((r) => r.route === "/api/v1/plain/echo" && r.status === 200)).toBeDefined()
    expect(observed.some((r) => r.route.includes(id))).toBe(false)
    expect(observed.every((r) => r.durationSeconds >= 0)).toBe(true)
  })
})
