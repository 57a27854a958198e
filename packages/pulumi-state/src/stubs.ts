import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { PulumiApi } from "./PulumiApi.js"
import { errorResponse } from "./PulumiError.js"

const todo = ({ request }: { request: { method: string; url: string } }) => Effect.succeed(errorResponse(501, `not implemented yet: ${request.method} ${request.url}`))

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
