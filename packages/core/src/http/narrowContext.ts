/**
 * Handlers built in a context that holds only the services they use.
 *
 * `HttpApiBuilder.group` captures the whole context its layer is built in
 * (the application's: about 33 services) and merges it into every request it
 * serves, and every service provided later in the request (the caller's
 * identity, a transaction's connection) copies the merged context again.
 * `groupUsing` builds the group with only the services it names, the
 * middleware its endpoints declare and the API builder's router, so requests
 * carry a few entries instead (docs/performance.md, "Read path").
 *
 * The names are checked against the handlers' requirements at compile time:
 * handlers that use a service the list does not name do not compile (the call
 * then asks for a fourth argument, whose type names the missing services).
 */
import { HttpApi, HttpApiBuilder, type HttpApiEndpoint, type HttpApiGroup } from "@effect/platform"
import { Context, Effect, Layer, Scope } from "effect"

/** Builds `layer` with the memo map and scope of the enclosing build, in a context holding only the keys `keep` accepts. */
export const buildIsolated = <A, E, R>(layer: Layer.Layer<A, E, R>, keep: (key: string) => boolean): Layer.Layer<A, E, R> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const all = yield* Effect.context<R>()
      const memoMap = yield* Layer.CurrentMemoMap
      const scope = yield* Scope.Scope
      const kept = Context.unsafeMake<R>(new Map([...all.unsafeMap].filter(([key]) => keep(key))))
      // mapInputContext replaces the context (Effect.provide would add to it).
      return yield* Effect.mapInputContext(Layer.buildWithMemoMap(layer, memoMap, scope), (_: Context.Context<R>) => kept)
    })
  )

type AnyTag = Context.Tag<any, any>

/** The keys of every middleware the group's endpoints, the group itself or the API declare. */
const middlewareKeys = (api: HttpApi.HttpApi.Any, groupName: string) => {
  const keys = new Set<string>()
  const add = (tags: Iterable<unknown>) => {
    for (const tag of tags) if (Context.isTag(tag)) keys.add(tag.key)
  }
  add((api as unknown as HttpApi.HttpApi.AnyWithProps).middlewares)
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ group, middleware }) => {
      if (group.identifier === groupName) add(middleware)
    }
  })
  return keys
}

/** What the handlers need from their context, middleware (the group's and its endpoints') and scope left out. */
type Needs<Return, Groups extends HttpApiGroup.HttpApiGroup.Any, Name extends string> = Exclude<
  HttpApiBuilder.Handlers.Context<Return>,
  | HttpApiGroup.HttpApiGroup.MiddlewareWithName<Groups, Name>
  | HttpApiEndpoint.HttpApiEndpoint.Context<HttpApiGroup.HttpApiGroup.Endpoints<HttpApiGroup.HttpApiGroup.WithName<Groups, Name>>>
  | Scope.Scope
>

/** `HttpApiBuilder.group(api, groupName, build)`, built with only `uses` (and its middleware) in its context. */
export const groupUsing =
  <const Uses extends ReadonlyArray<AnyTag>>(...uses: Uses) =>
  <ApiId extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, ApiError, ApiR, const Name extends HttpApiGroup.HttpApiGroup.Name<Groups>, Return>(
    api: HttpApi.HttpApi<ApiId, Groups, ApiError, ApiR>,
    groupName: Name,
    build: (
      handlers: HttpApiBuilder.Handlers.FromGroup<ApiError, ApiR, HttpApiGroup.HttpApiGroup.WithName<Groups, Name>>
    ) => HttpApiBuilder.Handlers.ValidateReturn<Return>,
    ..._unnamed: [Needs<Return, Groups, Name>] extends [Context.Tag.Identifier<Uses[number]>] ? [] : [servicesNotNamed: Exclude<Needs<Return, Groups, Name>, Context.Tag.Identifier<Uses[number]>>]
  ) => {
    const keys = middlewareKeys(api, groupName)
    keys.add(HttpApiBuilder.Router.key)
    for (const tag of uses) keys.add(tag.key)
    return buildIsolated(HttpApiBuilder.group(api, groupName, build), (key) => keys.has(key))
  }
