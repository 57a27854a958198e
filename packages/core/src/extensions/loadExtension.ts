/**
 * Loading one extension, isolated: a failure at any step is reported as
 * `[Extension] Failed to load <name>: <reason>` and the extension is left out
 * with nothing of it registered — except a `FatalExtensionError`, which stops
 * the start.
 *
 * Steps: contract and core range → migrations → its layer (services and
 * background fibers) → each API, served under its own pipeline with the
 * core's endpoint middlewares and the extension's services → registered as
 * loaded.
 */
import { HttpLayerRouter } from "@effect/platform"
import { Cause, Chunk, Effect, Layer, Option } from "effect"
import { runMigrations } from "../db/Migrations.js"
import { AppConfig } from "../config/AppConfig.js"
import { apiUnder, pipelineMiddleware, resolvePipeline, ROUTE_MIDDLEWARE_KEY } from "../http/ApiPipeline.js"
import { buildIsolated } from "../http/narrowContext.js"
import { policyLayer } from "../authorization/Policy.js"
import { ScopeRegistry } from "../authorization/ScopeRegistry.js"
import { EventCatalog } from "../events/EventCatalog.js"
import { OperatorAuthenticatorLive } from "../operators/Authentication.js"
import { machineAuthenticationLayer } from "../sessions/MachineAuthenticationLive.js"
import { type Extension, FatalExtensionError, incompatibility, isFatalExtensionError, type ServedApi } from "./Extension.js"
import { describeFailure } from "./describeFailure.js"
import { type ExtensionFailure, ExtensionRegistry } from "./ExtensionRegistry.js"

export { describeFailure }

export const extensionFailureLine = (failure: ExtensionFailure) => `[Extension] Failed to load ${failure.name}: ${failure.reason}`

/** The middlewares behind an API's endpoint policies (its scopes) and machine sessions. */
const endpointMiddleware = (api: ServedApi<any>["api"], owner: string) =>
  Layer.merge(policyLayer(api, { owner }).pipe(Layer.provide(OperatorAuthenticatorLive)), machineAuthenticationLayer(api))

/**
 * What adding an API's routes reads from its context: the router, the route
 * middleware (the pipeline) and the API's own middleware. The routes carry the
 * context they were added in into every request, so nothing else goes in: the
 * handlers bring their own (http/narrowContext.ts).
 */
const routerKeys = (api: ServedApi<any>["api"]) => {
  const apiMiddleware = new Set<string>([...api.middlewares].map((tag) => tag.key))
  return (key: string) =>
    key === HttpLayerRouter.HttpRouter.key || key.startsWith(ROUTE_MIDDLEWARE_KEY) || apiMiddleware.has(key)
}

/**
 * One API as it is served — its pipeline applied — and the layer that adds
 * its routes to the router. `owner` (`core` or the extension's name) registers
 * the scopes its endpoints require that nobody declared.
 */
export const servedApi = (served: ServedApi<any>, owner: string, defaults: { readonly maxBodyBytes: number }) => {
  const pipeline = resolvePipeline(served.pipeline, defaults)
  const api = apiUnder(served.api, pipeline)
  const routes = buildIsolated(HttpLayerRouter.addHttpApi(api), routerKeys(api)).pipe(
    Layer.provide(served.handlers),
    Layer.provide(pipelineMiddleware(pipeline).layer),
    Layer.provide(endpointMiddleware(api, owner))
  ) as Layer.Layer<never, unknown, never>
  return { api, routes }
}

const fail = (reason: string) => Layer.effectDiscard(Effect.fail(new Error(reason)))

export const loadExtension = (extension: Extension) => {
  const problem = incompatibility(extension)
  const steps = problem !== undefined
    ? fail(problem)
    : Layer.unwrapEffect(
        Effect.gen(function* () {
          const config = yield* AppConfig
          const apis = (extension.apis ?? []).map((served) => servedApi(served, extension.name, config))
          const services = extension.layer ?? Layer.empty
          // Services first, routes last: a layer that fails leaves no half-registered routes behind.
          const all = Layer.mergeAll(Layer.empty, ...apis.map(({ routes }) => routes)).pipe(Layer.provideMerge(services))
          // Its scopes and event types are declared before its migrations run: a duplicate or malformed
          // declaration leaves it out before it touches the database.
          const declarations = Layer.effectDiscard(
            Effect.zipRight(
              Effect.flatMap(ScopeRegistry, (registry) => registry.register(extension.name, extension.scopes ?? [])),
              Effect.flatMap(EventCatalog, (catalog) => catalog.register(extension.name, extension.events ?? []))
            )
          )
          return all.pipe(
            Layer.provide(Layer.effectDiscard(runMigrations(extension.name, extension.migrations ?? {}))),
            Layer.provide(declarations),
            Layer.tap(() =>
              Effect.flatMap(ExtensionRegistry, (registry) =>
                registry.markLoaded({
                  name: extension.name,
                  version: extension.version,
                  description: extension.description,
                  apis: apis.map(({ api }) => api)
                })
              )
            )
          )
        })
      )
  return (steps as Layer.Layer<never, unknown, never>).pipe(
    Layer.annotateLogs("extension", extension.name),
    Layer.catchAllCause((cause) =>
      Layer.effectDiscard(
        Effect.gen(function* () {
          const fatal = Cause.failures(cause).pipe(Chunk.findFirst(isFatalExtensionError))
          if (Option.isSome(fatal)) return yield* new FatalExtensionError({ message: `${extension.name}: ${fatal.value.message}` })
          // Nothing of a failed extension stays declared.
          yield* Effect.flatMap(ScopeRegistry, (registry) => registry.unregister(extension.name))
          yield* Effect.flatMap(EventCatalog, (catalog) => catalog.unregister(extension.name))
          const failure = { name: extension.name, reason: describeFailure(cause) }
          yield* Effect.logError(extensionFailureLine(failure))
          yield* Effect.flatMap(ExtensionRegistry, (registry) => registry.markFailed(failure))
        })
      )
    )
  )
}
