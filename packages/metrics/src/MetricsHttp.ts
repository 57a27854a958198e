import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { groupUsing, Unauthorized } from "@itl-attestation/core"
import { Effect, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import { render } from "./exposition.js"
import { MetricsApi } from "./MetricsApi.js"
import { MetricsSettings } from "./MetricsConfig.js"
import { PlatformMetrics } from "./PlatformMetrics.js"

const BEARER = /^Bearer ([\x21-\x7e]+)$/i

/** Compares digests, so neither the token's content nor its length shows in the time taken. */
const sameToken = (given: string, expected: string) =>
  crypto.timingSafeEqual(crypto.createHash("sha256").update(given).digest(), crypto.createHash("sha256").update(expected).digest())

export const MetricsHttp = groupUsing(PlatformMetrics, MetricsSettings)(MetricsApi, "metrics", (handlers) =>
  Effect.gen(function* () {
    const { registry } = yield* PlatformMetrics
    const { token } = yield* MetricsSettings
    const authorize = (request: HttpServerRequest.HttpServerRequest) => {
      if (Option.isNone(token)) return Effect.void
      const given = BEARER.exec(request.headers["authorization"] ?? "")?.[1]
      if (given !== undefined && sameToken(given, Redacted.value(token.value))) return Effect.void
      return Effect.fail(
        new Unauthorized({
          error: "unauthorized",
          message: "GET /metrics needs Authorization: Bearer <ITL_METRICS_TOKEN> on this server"
        })
      )
    }
    return handlers.handleRaw("scrape", ({ request }) =>
      Effect.gen(function* () {
        yield* authorize(request)
        const { contentType, body } = yield* Effect.promise(() => render(registry, request.headers["accept"]))
        return HttpServerResponse.text(body, { contentType, headers: { "cache-control": "no-store" } })
      })
    )
  })
)
