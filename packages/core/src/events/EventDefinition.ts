/**
 * An event type as its owner declares it: the name, what it means, and the
 * Schema of its `data`. The payload Schema describes the JSON that is stored
 * and delivered (its encoded side), so it is also what `GET
 * /api/v1/events/types` publishes as JSON Schema for webhook subscribers.
 */
import { DateTime, JSONSchema, Schema } from "effect"
import { DomainEvent, EVENT_TYPE_PATTERN } from "./Event.js"

export interface EventDefinition<A = any, I = any> {
  readonly type: string
  readonly description: string
  readonly payload: Schema.Schema<A, I>
  /** Builds the event with a typed payload (checked again by `Events.append`). */
  readonly make: (payload: I, options?: { readonly machineId?: string | undefined }) => DomainEvent
}

export const defineEvent = <A, I>(declaration: {
  readonly type: string
  readonly description: string
  readonly payload: Schema.Schema<A, I>
}): EventDefinition<A, I> => ({
  ...declaration,
  make: (payload, options) =>
    new DomainEvent({
      event_type: declaration.type,
      timestamp: DateTime.unsafeNow(),
      ...(options?.machineId === undefined ? {} : { machine_id: options.machineId }),
      data: payload as Record<string, unknown>
    })
})

/** Why a declaration cannot be registered, or undefined when it can. */
export const malformedDefinition = (definition: EventDefinition): string | undefined => {
  if (typeof definition?.type !== "string" || !EVENT_TYPE_PATTERN.test(definition.type)) {
    return `event type ${JSON.stringify(definition?.type)} is malformed: it must be namespace.name in snake_case (e.g. my_ext.thing_done)`
  }
  if (typeof definition.description !== "string" || definition.description.trim() === "") {
    return `event type ${definition.type} has no description`
  }
  if (!Schema.isSchema(definition.payload)) return `event type ${definition.type} has no payload Schema`
  try {
    JSONSchema.make(definition.payload)
  } catch (error) {
    return `event type ${definition.type}: its payload Schema has no JSON Schema representation (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`
  }
  return undefined
}
