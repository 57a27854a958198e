/**
 * Composition: the core services, the core routes and every extension, as one
 * Layer that any host can serve (`HttpLayerRouter.serve`) or turn into a web
 * handler (`AttestationApp.toWebHandler`).
 *
 * Build order: database → core migrations → keyring, events → audit log →
 * operators, machines → core routes and, one by one, each extension (its
 * migrations, then its layer) → docs and the startup report.
 */
import { HttpApi, HttpApiScalar, HttpLayerRouter, HttpServer, HttpServerResponse, OpenApi } from "@effect/platform"
import { Cause, Chunk, Context, Effect, Layer, Option } from "effect"
import { Attestation } from "./attestation/Attestation.js"
import { AttestationHttp, MachineSelfHttp, PcrPolicyHttp } from "./attestation/AttestationHttp.js"
import { PcrPolicies } from "./attestation/PcrPolicies.js"
import { AuditHttp } from "./audit/AuditHttp.js"
import { AuditLog } from "./audit/AuditLog.js"
import { AppConfig } from "./config/AppConfig.js"
import { CoreApi } from "./CoreApi.js"
import { coreMigrations } from "./db/coreMigrations.js"
import { DatabaseInfo, type DatabaseInfoShape, DatabaseLive } from "./db/Database.js"
import { runMigrations } from "./db/Migrations.js"
import { Enrollment } from "./enrollment/Enrollment.js"
import { EventCatalog } from "./events/EventCatalog.js"
import { Events } from "./events/Events.js"
import { EventsHttp } from "./events/EventsHttp.js"
import { type Extension, type ExtensionInfo, FatalExtensionError } from "./extensions/Extension.js"
import { type ExtensionFailure, ExtensionRegistry } from "./extensions/ExtensionRegistry.js"
import { errorMiddleware } from "./http/ErrorMiddleware.js"
import { withRequiredRoles } from "./http/openApiRoles.js"
import { KeyringLive } from "./keyring/Keyring.js"
import { KeyringHttp } from "./keyring/KeyringHttp.js"
import { MasterKeyRewrap } from "./keyring/Rewrap.js"
import { MachineHttp, MachineRegistrationHttp } from "./machines/MachineHttp.js"
import { MachineRepo } from "./machines/MachineRepo.js"
import { Machines } from "./machines/Machines.js"
import { MachineAuthenticationLive } from "./sessions/MachineAuthentication.js"
import { MachineSessions } from "./sessions/MachineSessions.js"
import { AuthenticationLive } from "./operators/Authentication.js"
import { OperatorHttp } from "./operators/OperatorHttp.js"
import { OperatorTokens } from "./operators/OperatorTokens.js"
import { SystemHttp } from "./system/SystemHttp.js"

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

/** The reason an extension failed, in one line, without a stack trace. */
export const describeFailure = (error: unknown): string => {
  if (Cause.isCause(error)) return describeFailure(Cause.squash(error))
  if (error instanceof Error) return error.message
  if (typeof error === "object" && error !== null && "message" in error) return String((error as { message: unknown }).message)
  return String(error)
}

export const extensionFailureLine = (failure: ExtensionFailure) =>
  `[Extension] Failed to load ${failure.name}: ${failure.reason}`

const DatabaseReady = Layer.effectDiscard(runMigrations("core", coreMigrations)).pipe(Layer.provideMerge(DatabaseLive))

/** Every core service, built once and shared by the core routes and all extensions. */
export const CoreServicesLive = Layer.mergeAll(
  OperatorTokens.Default,
  Machines.Default,
  Enrollment.Default,
  Attestation.Default,
  PcrPolicies.Default,
  MachineSessions.Default,
  MachineRepo.Default,
  MasterKeyRewrap.Default
).pipe(
  Layer.provideMerge(AuditLog.Default),
  Layer.provideMerge(Layer.mergeAll(Events.Default, EventCatalog.Default, ExtensionRegistry.Default)),
  Layer.provideMerge(DatabaseReady),
  // The keyring first: a missing or malformed master key stops the start before any connection is made.
  Layer.provideMerge(KeyringLive),
  Layer.provideMerge(HttpServer.layerContext)
)

const Bootstrap = Layer.effect(AdminBootstrap, Effect.flatMap(OperatorTokens, (tokens) => tokens.bootstrap))

const CoreRoutes = HttpLayerRouter.addHttpApi(CoreApi).pipe(
  Layer.provide(
    Layer.mergeAll(SystemHttp, MachineRegistrationHttp, AttestationHttp, MachineSelfHttp, MachineHttp, PcrPolicyHttp, OperatorHttp, AuditHttp, KeyringHttp, EventsHttp)
  ),
  Layer.provide(Layer.merge(AuthenticationLive, MachineAuthenticationLive))
)

/** Migrations, then the layer; any failure is reported and the extension left out. */
const isolate = (extension: Extension) =>
  extension.layer.pipe(
    Layer.provide(Layer.effectDiscard(runMigrations(extension.name, extension.migrations))),
    // Its event types first: a duplicate or malformed declaration leaves the extension out before it migrates.
    Layer.provide(Layer.effectDiscard(Effect.flatMap(EventCatalog, (catalog) => catalog.register(extension.name, extension.events ?? [])))),
    Layer.provide(Layer.merge(AuthenticationLive, MachineAuthenticationLive)),
    Layer.tap(() =>
      Effect.flatMap(ExtensionRegistry, (registry) =>
        registry.markLoaded({
          name: extension.name,
          version: extension.version,
          description: extension.description,
          ...(extension.api ? { api: extension.api } : {})
        })
      )
    ),
    Layer.catchAllCause((cause) =>
      Layer.effectDiscard(
        Effect.gen(function* () {
          const fatal = Cause.failures(cause).pipe(Chunk.findFirst((e): e is FatalExtensionError => e instanceof FatalExtensionError))
          if (Option.isSome(fatal)) return yield* Effect.fail(new FatalExtensionError({ message: `${extension.name}: ${fatal.value.message}` }))
          const failure = { name: extension.name, reason: describeFailure(cause) }
          yield* Effect.logError(extensionFailureLine(failure))
          yield* Effect.flatMap(ExtensionRegistry, (registry) => registry.markFailed(failure))
          yield* Effect.flatMap(EventCatalog, (catalog) => catalog.unregister(extension.name))
        })
      )
    )
  )

/** `/openapi.json` and `/docs` describe the core and every extension that loaded. */
const DocsRoutes = Layer.unwrapEffect(
  Effect.gen(function* () {
    const registry = yield* ExtensionRegistry
    const loaded = yield* registry.loaded
    let api: HttpApi.HttpApi.Any = CoreApi
    for (const extension of loaded) {
      if (extension.api) api = (api as any).addHttpApi(extension.api)
    }
    const spec = withRequiredRoles(OpenApi.fromApi(api as any), api)
    return Layer.mergeAll(
      HttpLayerRouter.add("GET", "/openapi.json", HttpServerResponse.unsafeJson(spec)),
      // Served inline, with no fonts from Scalar's CDN: the page works offline and under a strict CSP (http/responseHeaders.ts).
      HttpApiScalar.layerHttpLayerRouter({ api, path: "/docs", scalar: { withDefaultFonts: false } })
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

/**
 * Installed as global router middleware so it also sees unknown routes. The
 * router's types forbid global middleware from handling errors (they expect
 * the server to); we handle them here on purpose, because an embedding host
 * using the web handler has no other place to turn them into JSON.
 */
const ErrorHandling = HttpLayerRouter.use((router) =>
  Effect.flatMap(AppConfig, (config) => router.addGlobalMiddleware(errorMiddleware(config.maxBodyBytes) as any) as Effect.Effect<void>)
)

export interface AttestationAppOptions {
  readonly extensions: ReadonlyArray<Extension>
}

/**
 * The whole platform as a Layer. Requires `AppConfig` (use `AppConfig.Default`
 * to read the environment) and the router that `HttpLayerRouter.serve` /
 * `toWebHandler` provide; outputs the startup report.
 */
export const layer = (options: AttestationAppOptions) => {
  const extensions = options.extensions.map(isolate)
  const Extensions = extensions.length === 0 ? Layer.empty : Layer.mergeAll(extensions[0]!, ...extensions.slice(1))
  const Late = Layer.merge(DocsRoutes, Report).pipe(Layer.provide(Extensions))
  return Layer.mergeAll(CoreRoutes, Late, ErrorHandling).pipe(
    Layer.provide(Bootstrap),
    Layer.provideMerge(CoreServicesLive)
  )
}

/**
 * The platform as a `(Request) => Promise<Response>` handler, for embedding in
 * any server that speaks the Fetch API. Call `dispose` on shutdown.
 */
export const toWebHandler = (options: AttestationAppOptions & { readonly config: Layer.Layer<AppConfig> }) =>
  HttpLayerRouter.toWebHandler(layer(options).pipe(Layer.provide(options.config)), { disableLogger: true })
