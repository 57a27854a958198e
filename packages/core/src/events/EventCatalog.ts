/**
 * Every event type the running platform may append: the core's, then each
 * extension's, registered by the loader before the extension's layer is
 * built. One catalog per app (never module state: several apps may share a
 * process).
 */
import { Data, Effect, JSONSchema } from "effect"
import { coreEvents } from "./coreEvents.js"
import { type EventDefinition, malformedDefinition } from "./EventDefinition.js"

export interface CatalogEntry {
  readonly owner: string
  readonly definition: EventDefinition
  /** The payload's JSON Schema (draft-07), computed once at registration. */
  readonly jsonSchema: JSONSchema.JsonSchema7Root
}

export class EventCatalogError extends Data.TaggedError("EventCatalogError")<{ readonly message: string }> {}

export class EventCatalog extends Effect.Service<EventCatalog>()("@itl-attestation/core/EventCatalog", {
  effect: Effect.gen(function* () {
    const entries = new Map<string, CatalogEntry>()

    /** All or nothing: a bad declaration leaves none of the owner's types registered. */
    const register = (owner: string, definitions: ReadonlyArray<EventDefinition>) =>
      Effect.suspend(() => {
        const seen = new Set<string>()
        for (const definition of definitions) {
          const malformed = malformedDefinition(definition)
          if (malformed !== undefined) return Effect.fail(new EventCatalogError({ message: malformed }))
          const existing = entries.get(definition.type)
          if (existing !== undefined || seen.has(definition.type)) {
            const by = existing === undefined ? owner : existing.owner
            return Effect.fail(new EventCatalogError({ message: `event type ${definition.type} is already declared by ${by}` }))
          }
          seen.add(definition.type)
        }
        for (const definition of definitions) {
          entries.set(definition.type, { owner, definition, jsonSchema: JSONSchema.make(definition.payload) })
        }
        return Effect.void
      })

    /** Takes back an owner's types: an extension that failed to load declares nothing. */
    const unregister = (owner: string) =>
      Effect.sync(() => {
        for (const [type, entry] of entries) if (entry.owner === owner) entries.delete(type)
      })

    /** Sorted by type name. */
    const list = Effect.sync(() => [...entries.values()].sort((a, b) => (a.definition.type < b.definition.type ? -1 : 1)))

    const get = (type: string) => Effect.sync(() => entries.get(type))

    yield* Effect.orDie(register("core", coreEvents))
    return { register, unregister, list, get } as const
  })
}) {}
