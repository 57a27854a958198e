/** The outbox through the exported library API: in-process subscription and ordering. */
import { Events } from "@itl-attestation/core"
import { Chunk, Effect, Queue } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server?.stop())

describe("events", () => {
  it("in-process subscribers see each committed event once, in commit order, after the commit", async () => {
    const admin = api(server, server.adminToken)
    const received = await server.run(
      Effect.scoped(
        Effect.gen(function* () {
          const events = yield* Events
          const queue = yield* events.subscribe
          const id = yield* Effect.promise(async () => {
            const r = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "events-1" })
            await admin.post(`/api/v1/machines/${r.body.machine.id}/approve`)
            await admin.post(`/api/v1/machines/${r.body.machine.id}/lock`)
            // A refused change publishes nothing.
            await admin.post(`/api/v1/machines/${r.body.machine.id}/approve`)
            return r.body.machine.id as string
          })
          const first = yield* Queue.takeN(queue, 3)
          const extra = yield* Queue.takeAll(queue)
          return { id, events: [...Chunk.toArray(first), ...Chunk.toArray(extra)] }
        })
      )
    )
    expect(received.events.map((e) => e.event_type)).toEqual(["machine.registered", "machine.approved", "machine.locked"])
    expect(received.events.every((e) => e.machine_id === received.id)).toBe(true)
    const seqs = received.events.map((e) => e.seq)
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
    expect(received.events[2]!.data).toMatchObject({ previous_status: "approved", status: "locked", actor: "bootstrap-admin" })
  })

  it("events carry no secrets and are durable rows with increasing sequence numbers", async () => {
    const rows = await server.sql<{ seq: string; event_type: string; data: unknown }>("SELECT seq::text AS seq, event_type, data FROM events ORDER BY seq")
    expect(rows.length).toBeGreaterThanOrEqual(3)
    expect(JSON.stringify(rows)).not.toContain(server.adminToken)
  })
})
