/** Handlers of the deployments routes (DeploymentsApi.ts). */
import { groupUsing } from "@itl-attestation/core"
import { Effect } from "effect"
import { json } from "../PulumiError.js"
import { queryOf } from "../request.js"
import { PulumiSettings } from "../PulumiConfig.js"
import { stackRef, whenEnabled } from "../StacksHttp.js"
import { Deployments } from "./Deployments.js"
import { PulumiDeploymentsApi } from "./DeploymentsApi.js"
import { badField } from "../PulumiError.js"

const int = (value: string | null, field: string, fallback: number, min: number, max: number) => {
  if (value === null || value === "") return Effect.succeed(fallback)
  const n = Number(value)
  return Number.isInteger(n) && n >= min && n <= max ? Effect.succeed(n) : badField(field, `must be an integer from ${min} to ${max}`)
}

export const PulumiDeploymentsHttp = groupUsing(Deployments, PulumiSettings)(PulumiDeploymentsApi, "pulumiDeployments", (handlers) =>
  Effect.gen(function* () {
    const deployments = yield* Deployments
    const serve = yield* whenEnabled
    return handlers
      .handleRaw("create", ({ path, request }) =>
        serve(
          Effect.gen(function* () {
            // Read as text and parsed here: a malformed body is a 400 like any other field problem.
            const text = yield* Effect.orElseSucceed(request.text, () => "")
            let body: unknown
            try {
              body = text.trim() === "" ? undefined : JSON.parse(text)
            } catch {
              return yield* badField("body", "is not valid JSON")
            }
            return json(yield* deployments.create(request, stackRef(path), body), 202)
          })
        )
      )
      .handleRaw("list", ({ path, request }) =>
        serve(
          Effect.gen(function* () {
            const query = queryOf(request)
            const limit = yield* int(query.get("limit"), "limit", 50, 1, 500)
            const offset = yield* int(query.get("offset"), "offset", 0, 0, 1_000_000)
            return json(yield* deployments.list(request, stackRef(path), limit, offset))
          })
        )
      )
      .handleRaw("get", ({ path, request }) =>
        serve(
          Effect.gen(function* () {
            const query = queryOf(request)
            const after = yield* int(query.get("after"), "after", 0, 0, 2_000_000_000)
            const limit = yield* int(query.get("limit"), "limit", 1000, 1, 10_000)
            return json(yield* deployments.get(request, stackRef(path), path.id, after, limit))
          })
        )
      )
      .handleRaw("cancel", ({ path, request }) => serve(Effect.map(deployments.cancel(request, stackRef(path), path.id), (d) => json(d))))
  })
)
