/**
 * A small extension used to prove the extension contract end to end: its own
 * HttpApi (operator-authenticated), a migration with a table that references
 * machines ON DELETE CASCADE, a service using the machine read model and
 * audited changes, and a durable event consumer.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiError, HttpApiGroup, HttpApiSchema, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import {
  actorOf,
  AuditedChanges,
  authorized,
  defineExtension,
  defineScope,
  EventBus,
  FatalExtensionError,
  Forbidden,
  MachineDirectory,
  MachineId,
  NotFound,
  requireScope,
  serveApi,
  sqlDefect
} from "@itl-attestation/core"
import { Effect, Layer, Option, Schema } from "effect"

const NotesRead = defineScope({ name: "test_notes:read", description: "Read notes", grantedTo: "viewer" })
const NotesWrite = defineScope({ name: "test_notes:write", description: "Add notes", grantedTo: "operator" })

class Note extends Schema.Class<Note>("Note")({ id: Schema.Number, machine_id: Schema.String, text: Schema.String }) {}

class NotesGroup extends HttpApiGroup.make("notes")
  .add(
    HttpApiEndpoint.post("add", "/test-notes/machines/:id/notes")
      .setPath(Schema.Struct({ id: MachineId }))
      .setPayload(Schema.Struct({ text: Schema.String.pipe(Schema.minLength(1)) }))
      .addSuccess(Note, { status: 201 })
      .addError(NotFound)
      .middleware(requireScope(NotesWrite))
  )
  .add(
    HttpApiEndpoint.get("list", "/test-notes/machines/:id/notes")
      .setPath(Schema.Struct({ id: MachineId }))
      .addSuccess(Schema.Struct({ notes: Schema.Array(Note), total: Schema.Number }))
      .middleware(requireScope(NotesRead))
  )
  .addError(Forbidden)
  .prefix("/api/v1") {}

export class NotesApi extends HttpApi.make("test_notes").add(NotesGroup) {}

class NotesService extends Effect.Service<NotesService>()("test/NotesService", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const machines = yield* MachineDirectory
    const changes = yield* AuditedChanges
    return {
      add: (machineId: string, text: string) =>
        Effect.gen(function* () {
          const operator = yield* authorized(NotesWrite)
          if (Option.isNone(yield* machines.get(machineId))) return yield* new NotFound({ message: `machine ${machineId} not found` })
          const row = yield* changes.run(
            actorOf(operator),
            Effect.map(sql<Note>`INSERT INTO extension_test_notes (machine_id, text) VALUES (${machineId}, ${text}) RETURNING id, machine_id, text`, (rows) => rows[0]!),
            (note) => ({ action: "test_notes.note_added", targetType: "test_note", targetId: String(note.id), details: { machine_id: machineId } })
          )
          return new Note(row)
        }).pipe(sqlDefect),
      list: (machineId: string) =>
        Effect.gen(function* () {
          yield* authorized(NotesRead)
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
    const events = yield* EventBus
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
  core: "^2.0.0",
  scopes: [NotesRead, NotesWrite],
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
  layer: Layer.merge(NotesService.Default, EventRecorder),
  apis: [serveApi(NotesApi, NotesHttp)]
})

/** An extension whose layer cannot be built. */
export const brokenExtension = defineExtension({
  name: "broken_thing",
  version: "0.0.1",
  description: "Always fails to start",
  core: "^2.0.0",
  layer: Layer.effectDiscard(Effect.fail(new Error("upstream vault unreachable")))
})

/** An extension whose migration fails: it must be left out, and its routes never registered. */
class BadMigrationApi extends HttpApi.make("bad_migration").add(
  HttpApiGroup.make("bad").add(HttpApiEndpoint.get("get", "/api/v1/bad-migration").addSuccess(Schema.String))
) {}

export const badMigrationExtension = defineExtension({
  name: "bad_migration",
  version: "0.0.1",
  description: "Its migration is invalid SQL",
  core: "^2.0.0",
  migrations: {
    "0001_oops": Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE oops (`)
  },
  apis: [serveApi(BadMigrationApi, HttpApiBuilder.group(BadMigrationApi, "bad", (handlers) => handlers.handle("get", () => Effect.die("must never be routed"))))]
})

/** Built for a core this is not: refused at load with the range in the reason. */
export const futureCoreExtension = defineExtension({
  name: "future_core",
  version: "1.0.0",
  description: "Needs a core that does not exist yet",
  core: "^99.0.0",
  layer: Layer.effectDiscard(Effect.die("must never be built"))
})

/**
 * Fails with a FatalExtensionError made by "another copy" of the core: a plain
 * object with the tag. Recognised by tag, it stops the start.
 */
export const fatalFromAnotherCopyExtension = defineExtension({
  name: "fatal_copy",
  version: "1.0.0",
  description: "Misconfigured beyond repair",
  core: "^2.0.0",
  layer: Layer.effectDiscard(Effect.fail({ _tag: "FatalExtensionError", message: "the key cannot open the stored data" }))
})

/** A FatalExtensionError from this copy of the core (the common case). */
export const fatalExtension = defineExtension({
  name: "fatal_same",
  version: "1.0.0",
  description: "Misconfigured beyond repair",
  core: "^2.0.0",
  layer: Layer.effectDiscard(Effect.fail(new FatalExtensionError({ message: "the key cannot open the stored data" })))
})

/** Answers every request itself, in its own error format and with its own limit, to prove pipelines are per API. */
class PlainApi extends HttpApi.make("plain_errors").add(
  HttpApiGroup.make("plain").add(
    HttpApiEndpoint.post("echo", "/api/v1/plain/echo")
      .setPayload(Schema.Struct({ text: Schema.String.pipe(Schema.maxLength(3_000_000)) }))
      .addSuccess(Schema.Struct({ length: Schema.Number }))
  )
) {}

/** Schema mismatches in the same `{code, message}` format. */
const PlainDecodeError = Schema.transform(
  Schema.Struct({ code: Schema.Literal(400), message: Schema.String }),
  Schema.instanceOf(HttpApiError.HttpApiDecodeError),
  {
    strict: true,
    decode: (body) => new HttpApiError.HttpApiDecodeError({ issues: [], message: body.message }),
    encode: (error) => ({ code: 400 as const, message: `invalid request: ${error.issues[0]?.path.join(".") ?? ""}` })
  }
).annotations(HttpApiSchema.annotations({ status: 400 }))

export const plainErrorsExtension = defineExtension({
  name: "plain_errors",
  version: "1.0.0",
  description: "An API with its own pipeline (test extension)",
  core: "^2.0.0",
  apis: [
    serveApi(
      PlainApi,
      HttpApiBuilder.group(PlainApi, "plain", (handlers) => handlers.handle("echo", ({ payload }) => Effect.succeed({ length: payload.text.length }))),
      {
        maxBodyBytes: 4 * 1024 * 1024,
        gzip: true,
        challenge: undefined,
        decodeErrors: PlainDecodeError,
        renderProblem: (problem) => HttpServerResponse.unsafeJson({ code: problem.status, message: problem.message }, { status: problem.status })
      }
    )
  ]
})
