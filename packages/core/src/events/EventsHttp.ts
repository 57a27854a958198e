import { Effect, Layer } from "effect"
import { CoreApi } from "../CoreApi.js"
import { groupUsing } from "../http/narrowContext.js"
import { pageOf } from "../http/Pagination.js"
import { ConsumerList } from "./EventsApi.js"
import { EventOperations } from "./EventOperations.js"

export const EventsHttp = groupUsing(EventOperations)(CoreApi, "events", (handlers) =>
  Effect.map(EventOperations, (operations) =>
    handlers
      .handle("types", () => operations.types)
      .handle("consumers", () => Effect.map(operations.consumers, (consumers) => new ConsumerList({ consumers })))
      .handle("stopConsumer", ({ path }) => operations.stop(path.name))
      .handle("startConsumer", ({ path }) => operations.start(path.name))
      .handle("deadLetters", ({ urlParams }) => {
        const page = pageOf(urlParams)
        return operations.deadLetters({
          consumer: urlParams.consumer,
          includeReplayed: urlParams.include_replayed === "true",
          limit: page.limit,
          offset: page.offset
        })
      })
      .handle("replay", ({ path }) => operations.replay(path.id))
  )
).pipe(Layer.provide(EventOperations.Default))
