/**
 * A small extension used to prove the extension contract end to end: its own
 * HttpApi (operator-authenticated), a migration with a table that references
 * machines ON DELETE CASCADE, a service, and a durable event consumer.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpLayerRouter } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import {
  Authentication,
  defineExtension,
  Events,
  Forbidden,
  Machines,
  MachineId,
  NotFound,
  requireRole,
  sqlDefect
} from "@itl-attestation/core"
import { Effect, Layer, Schema } from "effect"

class Note extends Schema.Class<Note>("Note")({ id: Schema.Number, machine_id: Schema.String, text: Schema.String }) {}

class NotesGroup extends HttpApiGroup.make("notes")
  .add(
    HttpApiEndpoint.post("add", "/test-notes/machines/:id/notes")
      .setPath(Schema.Struct({ id: MachineId }))
      .setPayload(Schema.Struct({ text: Schema.String.pipe(Schema.minLength(1)) }))
      .addSuccess(Note, { status: 201 })
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.get("list", "/test-notes/machines/:id/notes")
      .setPath(Schema.Struct({ id: MachineId }))
      .addSuccess(Schema.Struct({ notes: Schema.Array(Note), total: Schema.Number }))
  )
  .addError(Forbidden)
  .middleware(Authentication)
  .prefix("/api/v1") {}

export class NotesApi extends HttpApi.make("test_notes").add(NotesGroup) {}

class NotesService extends Effect.Service<NotesService>()("test/NotesService", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const machines = yield* Machines
    return {
      add: (machineId: string, text: string) =>
        Effect.gen(function* () {
          yield* machines.get(machineId)
          const [row] = yield* sql<Note>`INSERT INTO extension_test_notes (machine_id, text)
            VALUES (${machineId}, ${text}) RETURNING id, machine_id, text`
          return new Note(row!)
        }).pipe(sqlDefect),
      list: (machineId: string) =>
        Effect.gen(function* () {
          yield* requireRole("viewer")
          const rows = yield* sql<Note>`SELECT id, machine_id, text FROM extension_test_notes WHERE machine_id = ${machineId} ORDER BY id`
          return { notes: rows.map((r) => new Note(r)), total: rows.length }
        }).pipe(sqlDefect)
    }
  })
}) {}

const NotesHttp = HttpApiBuilder.group(NotesApi, "notes", (handlers) =>
  Effect.map(NotesService, (notes) =>
    handlers
      .handle("add", ({ path, payload }) => notes.add(path.id, payload.text))
      .handle("list", ({ path }) => notes.list(path.id))
  )
)

/** Copies every committed event into a table, so tests can see the durable consumer work. */
const EventRecorder = Layer.scopedDiscard(
  Effect.gen(function* () {
    const events = yield* Events
    const sql = yield* SqlClient.SqlClient
    yield* events.consume({
      name: "test_notes.recorder",
      startAt: "beginning",
      pollInterval: "200 millis",
      handle: (event) =>
        sql`INSERT INTO extension_test_notes_seen (seq, event_type) VALUES (${event.seq}, ${event.event_type})`.pipe(Effect.orDie)
    })
  })
)

export const notesExtension = defineExtension({
  name: "test_notes",
  version: "1.2.3",
  description: "Notes on machines (test extension)",
  api: NotesApi,
  migrations: {
    "0001_create_notes": Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`CREATE TABLE extension_test_notes (
        id serial PRIMARY KEY,
        machine_id uuid NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
        text text NOT NULL
      )`),
    "0002_create_seen": Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`CREATE TABLE extension_test_notes_seen (seq bigint NOT NULL, event_type text NOT NULL)`)
  },
  layer: Layer.mergeAll(
    HttpLayerRouter.addHttpApi(NotesApi).pipe(Layer.provide(NotesHttp), Layer.provide(NotesService.Default)),
    EventRecorder
  )
})

/** An extension whose layer cannot be built. */
export const brokenExtension = defineExtension({
  name: "broken_thing",
  version: "0.0.1",
  description: "Always fails to start",
  migrations: {},
  layer: Layer.effectDiscard(Effect.fail(new Error("upstream vault unreachable")))
})

/** An extension whose migration fails: it must be left out, and its routes never registered. */
export const badMigrationExtension = defineExtension({
  name: "bad_migration",
  version: "0.0.1",
  description: "Its migration is invalid SQL",
  migrations: {
    "0001_oops": Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE oops (`)
  },
  layer: HttpLayerRouter.add("GET", "/api/v1/bad-migration", Effect.die("must never be routed"))
})
