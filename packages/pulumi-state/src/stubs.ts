import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { PulumiApi } from "./PulumiApi.js"
import { errorResponse } from "./PulumiError.js"

const todo = ({ request }: { request: { method: string; url: string } }) => Effect.succeed(errorResponse(501, `not implemented yet: ${request.method} ${request.url}`))

export const PulumiUpdatesHttp = HttpApiBuilder.group(PulumiApi, "pulumiUpdates", (handlers) =>
  Effect.succeed(
    handlers
      .handleRaw("createUpdate", todo)
      .handleRaw("createPreview", todo)
      .handleRaw("createRefresh", todo)
      .handleRaw("createDestroy", todo)
      .handleRaw("startUpdate", todo)
      .handleRaw("updateStatus", todo)
      .handleRaw("renewLease", todo)
      .handleRaw("checkpoint", todo)
      .handleRaw("checkpointVerbatim", todo)
      .handleRaw("checkpointDelta", todo)
      .handleRaw("events", todo)
      .handleRaw("complete", todo)
      .handleRaw("cancel", todo)
  )
)

export const PulumiSecretsHttp = HttpApiBuilder.group(PulumiApi, "pulumiSecrets", (handlers) =>
  Effect.succeed(
    handlers
      .handleRaw("encrypt", todo)
      .handleRaw("decrypt", todo)
      .handleRaw("batchEncrypt", todo)
      .handleRaw("batchDecrypt", todo)
      .handleRaw("logDecryption", todo)
      .handleRaw("logBatchDecryption", todo)
  )
)
