/**
 * Start-up and shutdown under traffic, against the built `attestation serve`:
 * every connection the server accepts gets an answer (or a clean close at
 * shutdown), in-flight requests finish on SIGTERM, and the process exits 0.
 */
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import { freshDatabase } from "../../../test-support/database.js"
import { hexKey, killAll, request, spawnServe } from "./spawned.js"

afterAll(killAll)

const adminToken = `lifecycle-admin-${hexKey().slice(0, 16)}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** What became of one request: its answer, or the socket error code (`TIMEOUT` = no answer). */
type Outcome = { kind: "answer"; status: number; retryAfter: string | undefined; at: number } | { kind: "error"; code: string }

const outcome = (promise: Promise<{ status: number; headers: http.IncomingHttpHeaders }>): Promise<Outcome> =>
  promise.then(
    (answer) => ({ kind: "answer", status: answer.status, retryAfter: answer.headers["retry-after"] as string | undefined, at: Date.now() }),
    (error: NodeJS.ErrnoException) => ({ kind: "error", code: error.code ?? error.message })
  )

const env = async () => {
  const db = await freshDatabase()
  return { db, env: { ...db.env, ITL_ADMIN_TOKEN: adminToken, ITL_SHARED_SECRET_MASTER_KEY: hexKey() } }
}

describe("start-up", () => {
  it("never leaves a connection unanswered while the server starts (cold start)", async () => {
    const { db, env: vars } = await env()
    try {
      const server = await spawnServe({ ...vars, ITL_LOG_LEVEL: "warning" })
      let started = false
      const banner = server.waitFor(/listening on/, 90_000).finally(() => (started = true))
      const outcomes: Array<Promise<Outcome>> = []
      // A new connection every 20 ms from spawn until a second after the banner.
      while (!started) {
        outcomes.push(outcome(request(server.url, { path: "/healthz", ms: 10_000 })))
        await sleep(20)
      }
      await banner
      for (let i = 0; i < 50; i++) {
        outcomes.push(outcome(request(server.url, { path: "/healthz", ms: 10_000 })))
        await sleep(20)
      }
      const results = await Promise.all(outcomes)
      const answered = results.filter((r) => r.kind === "answer")
      const errors = results.filter((r): r is Extract<Outcome, { kind: "error" }> => r.kind === "error")
      // Not accepted (nothing listening yet) is fine; accepted and then silence or a reset is not.
      expect(errors.filter((e) => e.code !== "ECONNREFUSED"), JSON.stringify(errors)).toEqual([])
      for (const answer of answered) {
        if (answer.kind !== "answer") continue
        expect([200, 503]).toContain(answer.status)
        if (answer.status === 503) expect(answer.retryAfter).toMatch(/^\d+$/)
      }
      expect(answered.filter((a) => a.kind === "answer" && a.status === 200).length).toBeGreaterThanOrEqual(50)
      server.child.kill("SIGTERM")
      expect(await server.exit()).toBe(0)
    } finally {
      await db.cleanup()
    }
  }, 150_000)
})

describe("shutdown", () => {
  it("on SIGTERM finishes in-flight writes, answers or closes keep-alive connections, logs and exits 0", async () => {
    const { db, env: vars } = await env()
    try {
      const server = await spawnServe(vars)
      await server.waitFor(/listening on/, 90_000)
      const agent = new http.Agent({ keepAlive: true, maxSockets: 40 })
      // Open 40 keep-alive connections: the writes below reuse them, so each is in flight on a connection
      // the server has accepted (a connection still in the kernel's backlog when the listener closes is reset
      // by the kernel: refused, as a connection after shutdown is).
      const warm = await Promise.all(Array.from({ length: 40 }, () => request(server.url, { path: "/healthz", agent })))
      expect(warm.every((w) => w.status === 200)).toBe(true)

      const auth = { authorization: `Bearer ${adminToken}` }
      // Journaled writes are serialised, so 40 of them keep the server busy for a while.
      const writes = Array.from({ length: 40 }, (_, i) =>
        outcome(
          request(server.url, {
            method: "POST",
            path: "/api/v1/operators/tokens",
            headers: auth,
            body: JSON.stringify({ name: `inflight-${i}`, role: "viewer" }),
            agent,
            ms: 20_000
          })
        )
      )
      // Signal as soon as the first write is answered: the rest are in flight.
      await Promise.race(writes)
      const signalled = Date.now()
      server.child.kill("SIGTERM")
      await sleep(20)
      // Requests sent after the signal, on the agent's open keep-alive connections (or new ones).
      const late = Array.from({ length: 10 }, () => outcome(request(server.url, { path: "/api/v1/machines", headers: auth, agent, ms: 20_000 })))

      const written = await Promise.all(writes)
      for (const w of written) {
        expect(w.kind, JSON.stringify(w)).toBe("answer")
        if (w.kind === "answer") expect(w.status === 201 || (w.status === 503 && w.retryAfter !== undefined), JSON.stringify(w)).toBe(true)
      }
      const finishedAfterSignal = written.filter((w) => w.kind === "answer" && w.status === 201 && w.at >= signalled)
      expect(finishedAfterSignal.length).toBeGreaterThan(0)

      for (const l of await Promise.all(late)) {
        // An answer (503 with Retry-After while draining) or a clean close; never silence.
        if (l.kind === "answer") expect(l.status === 503 ? l.retryAfter : String(l.status), JSON.stringify(l)).toMatch(/^\d+$/)
        else expect(["ECONNRESET", "ECONNREFUSED", "EPIPE"], JSON.stringify(l)).toContain(l.code)
      }
      expect(await server.exit(20_000)).toBe(0)
      const { stdout } = server.output()
      expect(stdout).toMatch(/received SIGTERM, shutting down \(draining \d+ request\(s\)\)/)
      expect(stdout).toMatch(/shutting down: stopped accepting connections; \d+ request\(s\) in flight/)
      expect(stdout).toMatch(/in-flight request\(s\) finished/)
      expect(stdout).toMatch(/message=stopped/)
      agent.destroy()

      // Every write that was answered 201 is in the database: restart and count.
      const again = await spawnServe(vars)
      await again.waitFor(/listening on/, 90_000)
      const list = await request(again.url, { path: "/api/v1/operators/tokens?limit=100", headers: auth })
      const names: Array<string> = JSON.parse(list.body).tokens.map((t: { name: string }) => t.name)
      expect(names.filter((n) => n.startsWith("inflight-")).length).toBeGreaterThanOrEqual(
        written.filter((w) => w.kind === "answer" && w.status === 201).length
      )
      again.child.kill("SIGTERM")
      expect(await again.exit()).toBe(0)
    } finally {
      await db.cleanup()
    }
  }, 180_000)

  it("cuts requests still running after ITL_SHUTDOWN_TIMEOUT, says so, and still exits 0", async () => {
    const { db, env: vars } = await env()
    try {
      const server = await spawnServe({ ...vars, ITL_SHUTDOWN_TIMEOUT: "1 second" })
      await server.waitFor(/listening on/, 90_000)
      // A request whose body never finishes arriving stays in flight forever.
      const stuck = net.connect(server.port, "127.0.0.1")
      const closed = new Promise<void>((resolve) => stuck.on("close", () => resolve()))
      stuck.on("error", () => {})
      stuck.write(
        `POST /api/v1/operators/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${adminToken}\r\n` +
          `Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`
      )
      await sleep(500)
      server.child.kill("SIGTERM")
      expect(await server.exit(8_000)).toBe(0)
      await closed
      expect(server.output().stdout).toMatch(/1 request\(s\) still running after 1s \(ITL_SHUTDOWN_TIMEOUT\); closing their connections/)
    } finally {
      await db.cleanup()
    }
  }, 120_000)
})
