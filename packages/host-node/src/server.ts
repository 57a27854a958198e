/**
 * The reference server: the composed app on Node's HTTP(S) server.
 * The port is bound only once the app is built; shutdown is graceful:
 * interrupting the layer (SIGTERM/SIGINT under `NodeRuntime.runMain`) stops
 * accepting, lets in-flight requests finish, then runs every finalizer
 * (background fibers, database). See listener.ts.
 */
import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import {
  AppConfig,
  AttestationApp,
  ClientCertificateSubject,
  type Extension,
  type ExtensionFailure,
  extensionFailureLine,
  StartupReport,
  type StartupReportShape
} from "@itl-attestation/core"
import { Context, Effect, Layer, Option } from "effect"
import * as path from "node:path"
import { discoverExtensions } from "./discovery.js"
import { HostConfig } from "./HostConfig.js"
import { type Listener, listen } from "./listener.js"
import { requestBaseContext } from "./requestContext.js"
import { clientCertificateSubject, makeServerFactory } from "./tls.js"

export interface ServerOptions {
  /** Extensions shipped with the host (the CLI passes the built-in ones). */
  readonly builtins?: ReadonlyArray<Extension>
  /** Where to look for installed extension packages (default: the working directory). */
  readonly root?: string
  /** More node_modules directories to look in (the CLI passes the ones it is installed in). */
  readonly searchPaths?: ReadonlyArray<string>
}

export interface ServerInfo {
  readonly url: string
  readonly report: StartupReportShape
  readonly moduleFailures: ReadonlyArray<ExtensionFailure>
  /** Requests being answered now. */
  readonly inFlight: () => number
}

export class RunningServer extends Effect.Tag("@itl-attestation/host-node/RunningServer")<RunningServer, ServerInfo>() {}

/** The bound HTTP(S) socket (listener.ts), for the URL and for handing it the app. */
class BoundListener extends Context.Tag("@itl-attestation/host-node/BoundListener")<BoundListener, Listener>() {}

/** Needs `AppConfig` and `HostConfig` (`.Default` reads the environment); outputs what started. */
export const serverLayer = (options: ServerOptions = {}) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const host = yield* HostConfig
      const factory = yield* makeServerFactory(host)
      const discovered = yield* discoverExtensions({
        builtins: options.builtins ?? [],
        modules: host.extensions,
        disabled: host.disabledExtensions,
        root: options.root ?? process.cwd(),
        searchPaths: options.searchPaths ?? []
      })
      const app = AttestationApp.layer({ extensions: discovered.extensions })
      // Bound only once the app is built (migrations run, extensions loaded): during
      // start-up connections are refused at once instead of waiting in the backlog
      // while PGlite's initialisation blocks the event loop for seconds.
      const listener = Layer.scoped(
        BoundListener,
        listen(factory.create, { port: host.port, host: host.host, shutdownTimeout: host.shutdownTimeout })
      )
      const served = Layer.scopedDiscard(
        Effect.gen(function* () {
          const router = yield* HttpLayerRouter.HttpRouter
          // No platform logger: the app writes one access line per request, with its request id.
          const handler = yield* NodeHttpServer.makeHandler(router.asHttpEffect()).pipe(
            // Requests start from a small context (requestContext.ts).
            Effect.mapInputContext((_: Context.Context<never>) => requestBaseContext)
          )
          yield* (yield* BoundListener).open(handler)
        })
      ).pipe(
        Layer.provideMerge(listener),
        Layer.provideMerge(app),
        Layer.provide(HttpLayerRouter.layer),
        Layer.provide(Layer.succeed(ClientCertificateSubject, clientCertificateSubject)),
        Layer.provideMerge(NodeHttpServer.layerContext)
      )
      const info = Layer.effect(
        RunningServer,
        Effect.gen(function* () {
          const { address, inFlight } = yield* BoundListener
          const hostname = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
          return { url: `${factory.scheme}://${hostname}:${address.port}`, report: yield* StartupReport, moduleFailures: discovered.failures, inFlight }
        })
      )
      return Layer.provide(info, served).pipe(Layer.merge(served))
    })
  )

export const bannerLines = (info: ServerInfo, dataDir: string): Array<string> => {
  const { report } = info
  const lines = [
    `ITL Attestation Platform listening on ${info.url}`,
    `Database: ${report.database.description} (${report.database.kind})`,
    `Extensions: ${report.extensions.length === 0 ? "none" : report.extensions.map((e) => `${e.name} ${e.version}`).join(", ")}`,
    ...[...info.moduleFailures, ...report.failedExtensions].map(extensionFailureLine)
  ]
  if (Option.isSome(report.generatedAdminToken)) {
    lines.push(
      `Admin token (shown this once; also saved 0600 in ${path.resolve(dataDir, "admin-token")}):`,
      `  ${report.generatedAdminToken.value}`
    )
  }
  return lines
}

export const ConfigLive = Layer.merge(AppConfig.Default, HostConfig.Default)
