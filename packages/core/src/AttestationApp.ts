/**
 * Composition: the core services, the core routes and every extension, as one
 * Layer that any host can serve (`HttpLayerRouter.serve`) or turn into a web
 * handler (`AttestationApp.toWebHandler`).
 *
 * Build order: database → core migrations → keyring, events → audit log →
 * operators, machines → core routes and, one by one, each extension (its
 * migrations, then its layer) → docs and the startup report.
 */
import { HttpApi, HttpApiScalar, HttpLayerRouter, HttpServer, HttpServerError, HttpServerRequest, HttpServerResponse, OpenApi } from "@effect/platform"
import { Context, Effect, Layer, Option } from "effect"
import { Attestation } from "./attestation/Attestation.js"
import { AttestationHttp, MachineSelfHttp, PcrPolicyHttp } from "./attestation/AttestationHttp.js"
import { PcrPolicies } from "./attestation/PcrPolicies.js"
import { AuditedChanges } from "./audit/AuditedChanges.js"
import { AuditHttp } from "./audit/AuditHttp.js"
import { AuditLog } from "./audit/AuditLog.js"
import { AppConfig } from "./config/AppConfig.js"
import { CoreApi } from "./CoreApi.js"
import { coreMigrations } from "./db/coreMigrations.js"
import { DatabaseInfo, type DatabaseInfoShape, DatabaseLive } from "./db/Database.js"
import { runMigrations } from "./db/Migrations.js"
import { withDatabase } from "./embedding/database.js"
import { embed, type EmbeddingOptions } from "./embedding/embed.js"
import { MountPrefix } from "./embedding/prefix.js"
import { Enrollment } from "./enrollment/Enrollment.js"
import { EventBus } from "./events/EventBus.js"
import { EventCatalog } from "./events/EventCatalog.js"
import { Events } from "./events/Events.js"
import { EventsHttp } from "./events/EventsHttp.js"
import { CORE_VERSION, type Extension, type ExtensionInfo, serveApi } from "./extensions/Extension.js"
import { type ExtensionFailure, ExtensionRegistry } from "./extensions/ExtensionRegistry.js"
import { hostEnvironmentLayer } from "./extensions/HostEnvironment.js"
import { loadExtension, servedApi } from "./extensions/loadExtension.js"
import { pipelineMiddleware, resolvePipeline } from "./http/ApiPipeline.js"
import { withPolicies } from "./http/openApiPolicies.js"
import { CurrentRequest, requestContextLayer } from "./http/RequestContext.js"
import { RequestObservers } from "./http/RequestObservers.js"
import { AuditFeed } from "./audit/AuditFeed.js"
import { OperatorCredentials } from "./operators/OperatorCredentials.js"
import { Measurements } from "./observability/Measurements.js"
import { KeyringLive } from "./keyring/Keyring.js"
import { tracerWhenConsumed } from "./observability/traced.js"
import { KeyringHttp } from "./keyring/KeyringHttp.js"
import { MasterKeyRewrap } from "./keyring/Rewrap.js"
import { MachineDirectory } from "./machines/MachineDirectory.js"
import { MachineHttp, MachineRegistrationHttp } from "./machines/MachineHttp.js"
import { MachineRepo } from "./machines/MachineRepo.js"
import { Machines } from "./machines/Machines.js"
import { MachineSessions } from "./sessions/MachineSessions.js"
import { coreScopes } from "./authorization/coreScopes.js"
import { ScopeRegistry } from "./authorization/ScopeRegistry.js"
import { OperatorHttp } from "./operators/OperatorHttp.js"
import { OperatorTokens } from "./operators/OperatorTokens.js"
import { SystemHttp } from "./system/SystemHttp.js"

export { describeFailure, extensionFailureLine } from "./extensions/loadExtension.js"

/** What a host prints once the app is up. */
export interface StartupReportShape {
  readonly database: DatabaseInfoShape
  /** Set only on the start that generated it (embedded default, first start). */
  readonly generatedAdminToken: Option.Option<string>
  readonly extensions: ReadonlyArray<ExtensionInfo>
  readonly failedExtensions: ReadonlyArray<ExtensionFailure>
}

export class StartupReport extends Context.Tag("@itl-attestation/core/StartupReport")<StartupReport, StartupReportShape>() {}

class AdminBootstrap extends Context.Tag("@itl-attestation/core/AdminBootstrap")<AdminBootstrap, Option.Option<string>>() {}

const DatabaseReady = Layer.effectDiscard(runMigrations("core", coreMigrations)).pipe(Layer.provideMerge(DatabaseLive))

/** Every core service, built once and shared by the core routes and all extensions. */
export const CoreServicesLive = OperatorCredentials.Default.pipe(Layer.provideMerge(Layer.mergeAll(
  OperatorTokens.Default,
  Machines.Default,
  Enrollment.Default,
  Attestation.Default,
  PcrPolicies.Default,
  MachineSessions.Default,
  MasterKeyRewrap.Default,
  MachineDirectory.Default,
  EventBus.Default
).pipe(
  // One helper for every audited change, core's and extensions'.
  Layer.provideMerge(AuditedChanges.Default),
  Layer.provideMerge(Layer.mergeAll(AuditLog.Default, MachineRepo.Default)),
  // The core's scopes are known before any API is served or token created.
  Layer.provideMerge(Layer.effectDiscard(Effect.flatMap(ScopeRegistry, (registry) => registry.register("core", coreScopes))).pipe(Layer.provideMerge(ScopeRegistry.Default))),
  Layer.provideMerge(Layer.mergeAll(Events.Default, EventCatalog.Default, ExtensionRegistry.Default, RequestObservers.Default, AuditFeed.Default, Measurements.Default, hostEnvironmentLayer(CORE_VERSION))),
  Layer.provideMerge(DatabaseReady),
  // The keyring first: a missing or malformed master key stops the start before any connection is made.
  Layer.provideMerge(KeyringLive),
  Layer.provideMerge(HttpServer.layerContext)
)))

const Bootstrap = Layer.effect(AdminBootstrap, Effect.flatMap(OperatorTokens, (tokens) => tokens.bootstrap))

/** The core's own API, served like an extension's: its handlers under the core pipeline. */
const CoreServed = serveApi(
  CoreApi,
  Layer.mergeAll(SystemHttp, MachineRegistrationHttp, AttestationHttp, MachineSelfHttp, MachineHttp, PcrPolicyHttp, OperatorHttp, AuditHttp, KeyringHttp, EventsHttp)
)

/**
 * Unknown routes get the core's 404 body. Registered for each method but HEAD,
 * which the router answers from the GET route of the same path.
 */
const FALLBACK_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const
// A defect, not a typed failure: the core pipeline renders it (http/Problem.ts), and routes declare no errors.
// Observers see it as `unmatched`, not as the catch-all's template.
const notFound = Effect.gen(function* () {
  const facts = yield* CurrentRequest
  if (facts !== undefined) facts.route = undefined
  const request = yield* HttpServerRequest.HttpServerRequest
  return yield* Effect.die(new HttpServerError.RouteNotFound({ request }))
})

/** `/openapi.json` and `/docs` describe the core and every extension that loaded, as they are served. */
const docsRoutes = (coreApi: HttpApi.HttpApi.Any) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const registry = yield* ExtensionRegistry
      const loaded = yield* registry.loaded
      let api = coreApi as HttpApi.HttpApi.AnyWithProps
      for (const extension of loaded) for (const extra of extension.apis) api = api.addHttpApi(extra as HttpApi.HttpApi.AnyWithProps)
      // Mounted under a prefix, the documents name the paths as served (embedding/prefix.ts).
      const prefix = yield* MountPrefix
      if (prefix !== "") api = api.prefix(prefix as `/${string}`)
      // Core's package.json version (without it the document says 0.0.1, @effect/platform's default). Set here,
      // not on CoreApi: clients bundle that definition, and its version read would find their package.json.
      api = api.annotate(OpenApi.Version, CORE_VERSION)
      const spec = withPolicies(OpenApi.fromApi(api), api)
      return Layer.mergeAll(
        HttpLayerRouter.add("GET", "/openapi.json", HttpServerResponse.unsafeJson(spec)),
        // Served inline, with no fonts from Scalar's CDN: the page works offline and under a strict CSP (http/responseHeaders.ts).
        HttpApiScalar.layerHttpLayerRouter({ api, path: "/docs", scalar: { withDefaultFonts: false } }),
        ...FALLBACK_METHODS.map((method) => HttpLayerRouter.add(method, "/*", notFound))
      )
    })
  )

const Report = Layer.effect(
  StartupReport,
  Effect.gen(function* () {
    const registry = yield* ExtensionRegistry
    return {
      database: yield* DatabaseInfo,
      generatedAdminToken: yield* AdminBootstrap,
      extensions: (yield* registry.loaded).map(({ name, version, description }) => ({ name, version, description })),
      failedExtensions: yield* registry.failed
    }
  })
)

export interface AttestationAppOptions extends EmbeddingOptions {
  readonly extensions: ReadonlyArray<Extension>
  /** One Info log line per request (default true). */
  readonly accessLog?: boolean
}

/**
 * The whole platform as a Layer. Requires `AppConfig` (use `AppConfig.Default`
 * to read the environment) and the router that `HttpLayerRouter.serve` /
 * `toWebHandler` provide; outputs the startup report.
 */
export const layer = (options: AttestationAppOptions) =>
  Layer.unwrapEffect(
    Effect.map(AppConfig, (config) => {
      const core = servedApi(CoreServed, "core", config)
      const corePipeline = pipelineMiddleware(resolvePipeline({}, config))
      const extensions = Layer.mergeAll(Layer.empty, ...options.extensions.map(loadExtension))
      const late = Layer.merge(docsRoutes(core.api).pipe(Layer.provide(corePipeline.layer)), Report).pipe(Layer.provide(extensions))
      return Layer.mergeAll(core.routes, late, requestContextLayer({ accessLog: options.accessLog ?? true })).pipe(
        Layer.provide(Bootstrap),
        Layer.provideMerge(CoreServicesLive)
      )
    })
  ).pipe(embed(options), Layer.provide(tracerWhenConsumed))

/**
 * The platform as a `(Request) => Promise<Response>` handler, for embedding in
 * any server that speaks the Fetch API. Call `dispose` on shutdown.
 */
export const toWebHandler = (options: AttestationAppOptions & { readonly config?: Layer.Layer<AppConfig> }) =>
  HttpLayerRouter.toWebHandler(layer({ accessLog: false, ...options }).pipe(Layer.provide(options.config ?? AppConfig.Default)), { disableLogger: true })

/**
 * The core services without HTTP (Machines, OperatorTokens, AuditLog, …), for
 * an application's own Effect program. Requires `AppConfig`; operations that
 * need a scope run under `actingAs(principal, ...scopes)` (authorization/actingAs.ts).
 */
export const services = (options: Pick<AttestationAppOptions, "database"> = {}) =>
  CoreServicesLive.pipe(withDatabase(options.database))
