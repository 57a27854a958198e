/**
 * The outbox without a lock: many writers append concurrently, some holding
 * their transaction open after appending (so their event has a smaller seq
 * than events committed meanwhile); a durable consumer polling all the while
 * must receive every event exactly once, in (txid, seq) order.
 *
 * On PostgreSQL this exercises the horizon: while a holder is open, events of
 * later transactions are committed and visible, and reading `seq > cursor`
 * would pass over the holder's event for good. On the embedded PGlite the
 * socket serialises transactions (a holder keeps every other writer and the
 * consumer waiting), so there the test proves the same reading loses nothing
 * and keeps order on a single connection, not the concurrent interleaving.
 */
import { defineEvent, EventCatalog, Events, type StoredEvent } from "@itl-attestation/core"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Schema, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer } from "../../../test-support/server.js"

const tick = defineEvent({ type: "horizon_test.tick", description: "a test event", payload: Schema.Struct({ n: Schema.Int }) })

const until = async (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

let server: TestServer
beforeAll(async () => {
  server = await startServer()
  await server.run(Effect.flatMap(EventCatalog, (catalog) => catalog.register("horizon_test", [tick])))
})
afterAll(() => server?.stop())

/** Appends event n in its own transaction; a holder keeps the transaction open for a while after appending. */
const write = (n: number, holdSeconds: number) =>
  server.run(
    Effect.gen(function* () {
      const events = yield* Events
      const sql = yield* SqlClient.SqlClient
      yield* events.transaction(
        events.append(tick.make({ n })).pipe(
          Effect.zipLeft(holdSeconds > 0 ? sql`SELECT pg_sleep(${holdSeconds})` : Effect.void)
        )
      )
    })
  )

describe("durable consumers read below the horizon", () => {
  it("receive every event once, in (txid, seq) order, including those of transactions that commit late with a smaller seq", async () => {
    const delivered: Array<StoredEvent> = []
    const scope = await server.run(Scope.make())
    await server.run(
      Scope.extend(
        Effect.flatMap(Events, (events) =>
          events.consume({
            name: "test.horizon",
            startAt: "beginning",
            pollInterval: "20 millis",
            batchSize: 7,
            handle: (event) => Effect.sync(() => event.event_type === tick.type && delivered.push(event))
          })
        ),
        scope
      )
    )
    try {
      const writers = 60
      // Every sixth writer holds its transaction open after appending; the others commit at once.
      await Promise.all(
        Array.from({ length: writers }, (_, n) => write(n, n % 6 === 0 ? 0.4 + (n % 4) * 0.1 : 0))
      )
      await until(() => delivered.length >= writers, `${writers} events delivered (have ${delivered.length})`)
      // A few polls more: nothing is delivered twice.
      await write(writers, 0)
      await until(() => delivered.some((e) => e.data.n === writers), "the last event")

      const ns = delivered.map((e) => e.data.n as number)
      expect(new Set(ns).size).toBe(ns.length)
      expect([...ns].sort((a, b) => a - b)).toEqual(Array.from({ length: writers + 1 }, (_, i) => i))
      const order = await server.sql<{ seq: string }>(
        "SELECT seq::text AS seq FROM events WHERE event_type = $1 ORDER BY events.txid, events.seq",
        [tick.type]
      )
      expect(delivered.map((e) => e.seq)).toEqual(order.map((r) => Number(r.seq)))
    } finally {
      await server.run(Scope.close(scope, Exit.void))
    }
  })

  it("report lag as the events after the consumer's position, and its cursor as the seq of the last event handled", async () => {
    const scope = await server.run(Scope.make())
    const handle = await server.run(
      Scope.extend(
        Effect.flatMap(Events, (events) =>
          events.consume({ name: "test.horizon.status", startAt: "end", pollInterval: "20 millis", handle: () => Effect.void })
        ),
        scope
      )
    )
    try {
      const [last] = await server.sql<{ seq: string }>("SELECT seq::text AS seq FROM events ORDER BY events.txid DESC, events.seq DESC LIMIT 1")
      await until(async () => (await server.run(handle.status)).cursor === Number(last!.seq), "the consumer to start at the end")
      await server.run(handle.stop)
      await write(1000, 0)
      await write(1001, 0)
      const status = await server.run(handle.status)
      expect(status).toMatchObject({ cursor: Number(last!.seq), lag: 2, running: false })
    } finally {
      await server.run(Scope.close(scope, Exit.void))
    }
  })
})
