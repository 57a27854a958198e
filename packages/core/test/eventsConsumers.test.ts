/**
 * Durable consumers v2 through the exported library API and the HTTP
 * endpoints: per-event retry, dead letters, replay, stop/start, and one
 * consumer shared by two instances.
 */
import { defineEvent, EventCatalog, Events, type ConsumerHandle, type StoredEvent } from "@itl-attestation/core"
import { Effect, Schema, Scope, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase } from "../../../test-support/database.js"
import { api, startServer, type TestServer } from "../../../test-support/server.js"

const poke = defineEvent({ type: "consumer_test.poke", description: "a test event", payload: Schema.Struct({ n: Schema.Int }) })

/** Polls until `check` holds (bounded): the consumer runs in the background. */
const until = async (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const declare = (server: TestServer) => server.run(Effect.flatMap(EventCatalog, (catalog) => catalog.register("consumer_test", [poke])))

const append = (server: TestServer, n: number) =>
  server.run(Effect.flatMap(Events, (events) => events.transaction(events.append(poke.make({ n })))))

/** Starts a consumer on `server` in a scope the test closes. */
const consumer = async (
  server: TestServer,
  name: string,
  handle: (event: StoredEvent) => Effect.Effect<void, unknown>,
  options: { maxAttempts?: number } = {}
) => {
  const scope = await server.run(Scope.make())
  const handleOf = await server.run(
    Scope.extend(
      Effect.flatMap(Events, (events) =>
        events.consume({ name, pollInterval: "50 millis", retryDelay: "5 millis", handle, ...options })
      ),
      scope
    )
  )
  return { handle: handleOf as ConsumerHandle, close: () => server.run(Scope.close(scope, Exit.void)) }
}

const n = (event: StoredEvent) => (event.event_type === poke.type ? (event.data.n as number) : undefined)

let server: TestServer
let operator: string
let viewer: string
beforeAll(async () => {
  server = await startServer()
  await declare(server)
  const admin = api(server, server.adminToken)
  operator = (await admin.post("/api/v1/operators/tokens", { name: "events-operator", role: "operator" })).body.token
  viewer = (await admin.post("/api/v1/operators/tokens", { name: "events-viewer", role: "viewer" })).body.token
})
afterAll(() => server?.stop())

describe("a poison event", () => {
  it("is retried maxAttempts times, dead-lettered, and does not block the events after it; a replay after the fix delivers it once", async () => {
    let broken = true
    let attempts = 0
    const delivered: Array<number> = []
    const c = await consumer(
      server,
      "test.poison",
      (event) =>
        Effect.suspend(() => {
          const value = n(event)
          if (value === undefined) return Effect.void
          if (value === 13 && broken) {
            attempts++
            return Effect.fail(new Error(`handler rejected event ${value}\nsecond line of detail`))
          }
          delivered.push(value)
          return Effect.void
        }),
      { maxAttempts: 3 }
    )
    try {
      await append(server, 1)
      await append(server, 13)
      await append(server, 2)
      await until(() => delivered.includes(2), "event 2")
      expect(delivered).toEqual([1, 2])
      expect(attempts).toBe(3)

      const listed = await api(server, viewer).get("/api/v1/events/dead-letters?consumer=test.poison")
      expect(listed.status).toBe(200)
      expect(listed.body.total).toBe(1)
      const letter = listed.body.dead_letters[0]
      expect(letter).toMatchObject({
        consumer: "test.poison",
        event_type: "consumer_test.poke",
        attempts: 3,
        last_error: "handler rejected event 13",
        replayed_at: null
      })
      const [stored] = await server.sql<{ seq: string; id: string }>(
        "SELECT seq::text AS seq, id FROM events WHERE event_type = 'consumer_test.poke' AND data->>'n' = '13'"
      )
      expect(letter.event_seq).toBe(Number(stored!.seq))
      expect(letter.event_id).toBe(stored!.id)

      const consumers = await api(server, viewer).get("/api/v1/events/consumers")
      expect(consumers.status).toBe(200)
      expect(consumers.body.consumers.find((c: any) => c.name === "test.poison")).toMatchObject({
        running: true, lag: 0, dead_letters: 1, active: true, stopped_at: null
      })

      // A viewer may look but not replay.
      expect((await api(server, viewer).post(`/api/v1/events/dead-letters/${letter.id}/replay`)).status).toBe(403)
      // Still broken: the replay runs once and reports the failure.
      const failed = await api(server, operator).post(`/api/v1/events/dead-letters/${letter.id}/replay`)
      expect(failed.status).toBe(200)
      expect(failed.body).toMatchObject({ outcome: "failed", error: "handler rejected event 13" })
      expect(failed.body.dead_letter).toMatchObject({ attempts: 4, replayed_at: null, replay_requested_at: null })
      expect(attempts).toBe(4)

      broken = false
      const replayed = await api(server, operator).post(`/api/v1/events/dead-letters/${letter.id}/replay`)
      expect(replayed.status).toBe(200)
      expect(replayed.body).toMatchObject({ outcome: "delivered", error: null })
      expect(replayed.body.dead_letter.replayed_at).not.toBeNull()
      expect(delivered).toEqual([1, 2, 13])

      const again = await api(server, operator).post(`/api/v1/events/dead-letters/${letter.id}/replay`)
      expect(again.status).toBe(409)
      expect(again.body.error).toBe("already_replayed")
      expect(delivered).toEqual([1, 2, 13])

      // Resolved: gone from the default listing, kept with include_replayed.
      expect((await api(server, viewer).get("/api/v1/events/dead-letters?consumer=test.poison")).body.total).toBe(0)
      const all = await api(server, viewer).get("/api/v1/events/dead-letters?consumer=test.poison&include_replayed=true")
      expect(all.body.dead_letters.map((d: any) => d.id)).toEqual([letter.id])
      expect((await server.run(c.handle.status)).dead_letters).toBe(0)

      const audit = await api(server, server.adminToken).get("/api/v1/audit?action=event_dead_letter.replay_requested")
      expect(audit.body.entries.map((e: any) => [e.actor, e.target_id, e.details.event_type])).toEqual([
        ["events-operator", letter.id, "consumer_test.poke"],
        ["events-operator", letter.id, "consumer_test.poke"]
      ])
    } finally {
      await c.close()
    }
  })

  it("replay answers 404 for an unknown dead letter and 400 for a malformed id, changing nothing", async () => {
    const unknown = await api(server, operator).post("/api/v1/events/dead-letters/00000000-0000-4000-8000-000000000000/replay")
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toBe("unknown_dead_letter")
    const malformed = await api(server, operator).post("/api/v1/events/dead-letters/not-a-uuid/replay")
    expect(malformed.status).toBe(400)
    expect(malformed.text).toContain("id")
    const bad = await api(server, viewer).get("/api/v1/events/dead-letters?limit=0")
    expect(bad.status).toBe(400)
    expect(bad.text).toContain("limit")
  })

  it("a handler that dies (a defect) is retried and dead-lettered the same way", async () => {
    const delivered: Array<number> = []
    const c = await consumer(
      server,
      "test.dies",
      (event) => (n(event) === 66 ? Effect.die(new TypeError("cannot read x of undefined")) : Effect.sync(() => void delivered.push(n(event)!))),
      { maxAttempts: 2 }
    )
    try {
      await append(server, 66)
      await append(server, 67)
      await until(() => delivered.includes(67), "event 67")
      const letters = (await api(server, viewer).get("/api/v1/events/dead-letters?consumer=test.dies")).body.dead_letters
      expect(letters).toHaveLength(1)
      expect(letters[0]).toMatchObject({ attempts: 2, last_error: "cannot read x of undefined" })
    } finally {
      await c.close()
    }
  })
})

describe("stopping and starting", () => {
  it("an operator stops a consumer (audited), events wait, and start delivers them once", async () => {
    const delivered: Array<number> = []
    const c = await consumer(server, "test.stoppable", (event) => Effect.sync(() => n(event) !== undefined && void delivered.push(n(event)!)))
    try {
      await append(server, 200)
      await until(() => delivered.includes(200), "event 200")

      expect((await api(server, viewer).post("/api/v1/events/consumers/test.stoppable/stop")).status).toBe(403)
      const unknown = await api(server, operator).post("/api/v1/events/consumers/no.such.consumer/stop")
      expect(unknown.status).toBe(404)
      expect(unknown.body.error).toBe("unknown_consumer")
      const malformed = await api(server, operator).post("/api/v1/events/consumers/not%20a%20name/stop")
      expect(malformed.status).toBe(400)
      expect(malformed.text).toContain("name")

      const stopped = await api(server, operator).post("/api/v1/events/consumers/test.stoppable/stop")
      expect(stopped.status).toBe(200)
      expect(stopped.body).toMatchObject({ name: "test.stoppable", running: false, stopped_by: "events-operator" })

      await append(server, 201)
      await until(async () => (await server.run(c.handle.status)).lag === 1, "lag 1")
      // The event committed on this instance wakes the loop at once; a stopped one must not take it.
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect(delivered).toEqual([200])
      const listed = (await api(server, viewer).get("/api/v1/events/consumers")).body.consumers.find((x: any) => x.name === "test.stoppable")
      expect(listed).toMatchObject({ running: false, lag: 1 })

      const started = await api(server, operator).post("/api/v1/events/consumers/test.stoppable/start")
      expect(started.status).toBe(200)
      expect(started.body).toMatchObject({ running: true, stopped_at: null, stopped_by: null })
      await until(() => delivered.includes(201), "event 201")
      expect(delivered).toEqual([200, 201])

      // One instance runs a consumer once: a second loop would share its lease.
      await expect(consumer(server, "test.stoppable", () => Effect.void)).rejects.toThrow(/event consumer test.stoppable is already running in this instance/)

      // The same through the handle the library returns.
      await server.run(c.handle.stop)
      expect((await server.run(c.handle.status)).running).toBe(false)
      await append(server, 202)
      await server.run(c.handle.start)
      await until(() => delivered.includes(202), "event 202")
      expect(delivered).toEqual([200, 201, 202])

      const audit = await api(server, server.adminToken).get("/api/v1/audit?target_type=event_consumer&target_id=test.stoppable")
      expect(audit.body.entries.map((e: any) => [e.action, e.actor]).sort()).toEqual([
        ["event_consumer.started", "events-operator"],
        ["event_consumer.stopped", "events-operator"]
      ])
    } finally {
      await c.close()
    }
  })
})

describe.runIf(process.env.TEST_DATABASE_URL !== undefined && process.env.TEST_DATABASE_URL !== "")("two instances", () => {
  it("share one consumer: each event is handled by one of them, and a stop through either stops both", async () => {
    const shared = await freshDatabase()
    const a = await startServer({ database: shared })
    const b = await startServer({ database: shared })
    try {
      await declare(a)
      await declare(b)
      const seen: Array<{ instance: string; n: number }> = []
      let broken = true
      const record = (instance: string) => (event: StoredEvent) =>
        Effect.suspend(() => {
          if (n(event) === 500 && broken) return Effect.fail(new Error("poison"))
          if (n(event) !== undefined) seen.push({ instance, n: n(event)! })
          return Effect.void
        })
      const ca = await consumer(a, "test.shared", record("a"))
      const cb = await consumer(b, "test.shared", record("b"))
      try {
        for (let i = 0; i < 20; i++) await append(i % 2 === 0 ? a : b, 300 + i)
        await until(() => new Set(seen.map((s) => s.n)).size === 20, "20 events")
        expect(seen.map((s) => s.n).sort()).toEqual(Array.from({ length: 20 }, (_, i) => 300 + i))

        const opB = (await api(b, b.adminToken).post("/api/v1/operators/tokens", { name: "shared-op", role: "operator" })).body.token
        expect((await api(b, opB).post("/api/v1/events/consumers/test.shared/stop")).status).toBe(200)
        expect((await a.run(ca.handle.status)).running).toBe(false)
        await append(a, 400)
        await append(b, 401)
        await new Promise((resolve) => setTimeout(resolve, 500))
        expect(seen.filter((s) => s.n >= 400)).toEqual([])
        expect((await api(a, a.adminToken).post("/api/v1/events/consumers/test.shared/start")).status).toBe(200)
        await until(() => seen.filter((s) => s.n >= 400).length === 2, "events 400 and 401")
        expect(seen).toHaveLength(22)

        // A dead letter is replayed by whichever instance runs the consumer, whichever instance is asked.
        await append(a, 500)
        await append(a, 501)
        await until(() => seen.some((s) => s.n === 501), "event 501")
        const [letter] = (await api(b, opB).get("/api/v1/events/dead-letters?consumer=test.shared")).body.dead_letters
        expect(letter).toMatchObject({ attempts: 5, last_error: "poison" })
        broken = false
        const replayed = await api(b, opB).post(`/api/v1/events/dead-letters/${letter.id}/replay`)
        expect(replayed.status).toBe(200)
        expect(replayed.body.outcome).toBe("delivered")
        expect(seen.filter((s) => s.n === 500)).toHaveLength(1)
        expect(seen).toHaveLength(24)
      } finally {
        await ca.close()
        await cb.close()
      }
    } finally {
      await a.stop()
      await b.stop()
      await shared.cleanup()
    }
  })
})
