/** Handlers of the update lifecycle routes (PulumiApi.ts, Updates.ts). */
import type { HttpServerRequest } from "@effect/platform"
import { groupUsing } from "@itl-attestation/core"
import { Effect } from "effect"
import { checkRef } from "./names.js"
import { PulumiApi } from "./PulumiApi.js"
import { PulumiAuth, type Right, updateTokenOf } from "./PulumiAuth.js"
import { json, unauthorized } from "./PulumiError.js"
import { objectBody } from "./request.js"
import { Stacks } from "./Stacks.js"
import { PulumiSettings } from "./PulumiConfig.js"
import { stackRef, whenEnabled } from "./StacksHttp.js"
import { NOT_THIS_UPDATE, type UpdateKind, Updates } from "./Updates.js"

type StackPath = { readonly org: string; readonly project: string; readonly stack: string }

export const PulumiUpdatesHttp = groupUsing(PulumiAuth, Stacks, Updates, PulumiSettings)(PulumiApi, "pulumiUpdates", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* PulumiAuth
    const stacks = yield* Stacks
    const updates = yield* Updates
    const serve = yield* whenEnabled

    /** An API-token route: the caller's right on the stack first, then the stack. */
    const withStack = (request: HttpServerRequest.HttpServerRequest, path: StackPath, right: Right) =>
      Effect.gen(function* () {
        const ref = stackRef(path)
        const who = yield* auth.authorize(request, right, { org: ref.org, project: ref.project })
        yield* checkRef(ref)
        return { who, stack: yield* stacks.get(ref) }
      })

    /**
     * An update-token route: the lease token is checked against the update in the path (Updates.leased);
     * the stack is looked up first only to find that update. A caller without a token learns nothing:
     * the 401 comes before the lookup.
     */
    const withLease = (request: HttpServerRequest.HttpServerRequest, path: StackPath) =>
      Effect.gen(function* () {
        const token = updateTokenOf(request)
        if (token === undefined) return yield* unauthorized("this route needs `Authorization: update-token <lease token>`")
        // Without the update's token nothing is said about the stack or the update: no 404, no 400.
        const stack = yield* checkRef(stackRef(path)).pipe(
          Effect.zipRight(stacks.find(stackRef(path))),
          Effect.catchAll(() => Effect.succeed(undefined))
        )
        if (stack === undefined) return yield* unauthorized(NOT_THIS_UPDATE)
        return { token, stack }
      })

    const createOf = (kind: UpdateKind) =>
      ({ request, path }: { request: HttpServerRequest.HttpServerRequest; path: StackPath }) =>
        serve(
          Effect.gen(function* () {
            const { who, stack } = yield* withStack(request, path, "write")
            const body = yield* objectBody(request)
            const updateID = yield* updates.create(who, stack, kind, body)
            return json({ updateID, requiredPolicies: [], messages: [] })
          })
        )

    return handlers
      .handleRaw("createUpdate", createOf("update"))
      .handleRaw("createPreview", createOf("preview"))
      .handleRaw("createRefresh", createOf("refresh"))
      .handleRaw("createDestroy", createOf("destroy"))
      .handleRaw("startUpdate", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { stack } = yield* withStack(request, path, "write")
            const body = yield* objectBody(request)
            return json(yield* updates.start(stack, path.updateId, body))
          })
        )
      )
      .handleRaw("updateStatus", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { stack } = yield* withStack(request, path, "read")
            const update = yield* updates.status(stack, path.updateId)
            const finished = update.status === "succeeded" || update.status === "failed" || update.status === "cancelled"
            // No continuationToken once the update is over: that is how the CLI stops polling.
            return json({ status: update.status, events: [], ...(finished ? {} : { continuationToken: update.update_id }) })
          })
        )
      )
      .handleRaw("renewLease", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { token, stack } = yield* withLease(request, path)
            return json(yield* updates.renew(stack, path.updateId, token, yield* objectBody(request)))
          })
        )
      )
      .handleRaw("checkpoint", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { token, stack } = yield* withLease(request, path)
            yield* updates.checkpointFull(stack, path.updateId, token, yield* objectBody(request))
            return json({})
          })
        )
      )
      .handleRaw("checkpointVerbatim", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { token, stack } = yield* withLease(request, path)
            const body = yield* objectBody(request)
            yield* updates.checkpointVerbatim(stack, path.updateId, token, body, yield* request.text.pipe(Effect.orDie))
            return json({})
          })
        )
      )
      .handleRaw("checkpointDelta", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { token, stack } = yield* withLease(request, path)
            yield* updates.checkpointDelta(stack, path.updateId, token, yield* objectBody(request))
            return json({})
          })
        )
      )
      .handleRaw("events", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { token, stack } = yield* withLease(request, path)
            yield* updates.events(stack, path.updateId, token, yield* objectBody(request))
            return json({})
          })
        )
      )
      .handleRaw("complete", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { token, stack } = yield* withLease(request, path)
            yield* updates.complete(stack, path.updateId, token, yield* objectBody(request))
            return json({})
          })
        )
      )
      .handleRaw("cancel", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { who, stack } = yield* withStack(request, path, "write")
            yield* updates.cancel(who.name, stack, path.updateId)
            return json({})
          })
        )
      )
  })
)
