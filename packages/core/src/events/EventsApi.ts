/**
 * The event catalog and the durable consumers, for operators and webhook
 * subscribers: `/api/v1/events/types`, `/consumers`, `/dead-letters`.
 */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Conflict, Forbidden, NotFound } from "../http/ApiError.js"
import { paginationParams } from "../http/Pagination.js"
import { EventsRead, EventsWrite } from "../authorization/coreScopes.js"
import { requireScope } from "../authorization/Policy.js"
import { CONSUMER_NAME_PATTERN, ConsumerStatus } from "./Events.js"

export class EventTypeInfo extends Schema.Class<EventTypeInfo>("EventTypeInfo")({
  name: Schema.String,
  /** `core` or the name of the extension that declared it. */
  owner: Schema.String,
  description: Schema.String,
  /** JSON Schema (draft-07) of the event's `data`. */
  payload: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

export class EventTypeList extends Schema.Class<EventTypeList>("EventTypeList")({
  types: Schema.Array(EventTypeInfo)
}) {}

export class ConsumerList extends Schema.Class<ConsumerList>("ConsumerList")({
  consumers: Schema.Array(ConsumerStatus)
}) {}

export class DeadLetter extends Schema.Class<DeadLetter>("DeadLetter")({
  id: Schema.UUID,
  consumer: Schema.String,
  event_seq: Schema.Number,
  event_id: Schema.UUID,
  event_type: Schema.String,
  /** Every attempt, replays included. */
  attempts: Schema.Number,
  /** The handler's last error message (one line). */
  last_error: Schema.String,
  created_at: Schema.String,
  replay_requested_at: Schema.NullOr(Schema.String),
  replay_requested_by: Schema.NullOr(Schema.String),
  /** Set once a replay succeeded: the dead letter is resolved. */
  replayed_at: Schema.NullOr(Schema.String),
  replay_failed_at: Schema.NullOr(Schema.String),
  replay_error: Schema.NullOr(Schema.String)
}) {}

export class DeadLetterPage extends Schema.Class<DeadLetterPage>("DeadLetterPage")({
  dead_letters: Schema.Array(DeadLetter),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

/** 200: the consumer ran the handler on the event again. */
export class ReplayOutcome extends Schema.Class<ReplayOutcome>("ReplayOutcome")({
  /** `delivered`: the handler succeeded; `failed`: it failed again (see `error`). */
  outcome: Schema.Literal("delivered", "failed"),
  error: Schema.NullOr(Schema.String),
  dead_letter: DeadLetter
}) {}

/** 202: the replay is requested but no instance ran it within the wait; it runs when the consumer next runs. */
export class ReplayPending extends Schema.Class<ReplayPending>("ReplayPending")({
  outcome: Schema.Literal("pending"),
  dead_letter: DeadLetter
}) {}

const ConsumerName = Schema.Struct({
  name: Schema.String.pipe(
    Schema.pattern(CONSUMER_NAME_PATTERN, { message: () => "must be a consumer name: letters, digits and _ . : - (at most 200)" })
  )
})

export class EventsApi extends HttpApiGroup.make("events")
  .add(HttpApiEndpoint.get("types", "/events/types").addSuccess(EventTypeList).middleware(requireScope(EventsRead)))
  .add(HttpApiEndpoint.get("consumers", "/events/consumers").addSuccess(ConsumerList).middleware(requireScope(EventsRead)))
  .add(
    HttpApiEndpoint.post("stopConsumer", "/events/consumers/:name/stop")
      .setPath(ConsumerName)
      .addSuccess(ConsumerStatus)
      .addError(NotFound)
      .middleware(requireScope(EventsWrite))
  )
  .add(
    HttpApiEndpoint.post("startConsumer", "/events/consumers/:name/start")
      .setPath(ConsumerName)
      .addSuccess(ConsumerStatus)
      .addError(NotFound)
      .middleware(requireScope(EventsWrite))
  )
  .add(
    HttpApiEndpoint.get("deadLetters", "/events/dead-letters")
      .setUrlParams(
        Schema.Struct({
          consumer: Schema.optional(Schema.String),
          /** Include dead letters already replayed successfully (default: only unresolved ones). */
          include_replayed: Schema.optional(Schema.Literal("true", "false")),
          ...paginationParams
        })
      )
      .addSuccess(DeadLetterPage)
      .middleware(requireScope(EventsRead))
  )
  .add(
    HttpApiEndpoint.post("replay", "/events/dead-letters/:id/replay")
      .setPath(Schema.Struct({ id: Schema.UUID }))
      .addSuccess(ReplayOutcome)
      .addSuccess(ReplayPending, { status: 202 })
      .addError(NotFound)
      .addError(Conflict)
      .middleware(requireScope(EventsWrite))
  )
  .addError(BadRequest)
  .addError(Forbidden)
  .prefix("/api/v1") {}
