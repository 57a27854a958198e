/**
 * The platform as a Node request listener, `(req, res) => void`, for an
 * application that runs its own `http.Server` (or Express, Koa, …) and hands
 * some requests — typically everything under a prefix — to the platform.
 *
 * The app is built at once; `ready` settles when it is serving (or failed).
 * Requests that arrive before then wait for it, so none is lost during the
 * start and none hangs: if the start fails, or after `dispose`, they are
 * answered 503 with `Retry-After`. The listener does no logging of its own and
 * never reads TLS client certificates: the embedding server's TLS settings
 * are its own business, and trusting its client CA as platform operators
 * would be a decision nobody made (host-node's server does that, with
 * ITL_TLS_CLIENT_CA).
 */
import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { AppConfig, AttestationApp, StartupReport, type StartupReportShape } from "@itl-attestation/core"
import { Context, Effect, Layer, ManagedRuntime } from "effect"
import type * as http from "node:http"
import { requestBaseContext } from "./requestContext.js"

export type NodeRequestListener = (request: http.IncomingMessage, response: http.ServerResponse) => void

export interface RequestListenerOptions extends AttestationApp.AttestationAppOptions {
  /** The platform's configuration (default: `AppConfig.Default`, from the environment). */
  readonly config?: Layer.Layer<AppConfig>
}

export interface EmbeddedListener {
  readonly listener: NodeRequestListener
  /** Resolves with the startup report once requests are served; rejects with the reason the start failed. */
  readonly ready: Promise<StartupReportShape>
  /** Stops the app (extensions' fibers, then the database it owns). Stop routing requests to `listener` first. */
  readonly dispose: () => Promise<void>
}

class Handler extends Context.Tag("@itl-attestation/host-node/EmbeddedHandler")<Handler, NodeRequestListener>() {}

/** How long a client should wait before retrying. */
const RETRY_AFTER_SECONDS = 1

const refuse = (response: http.ServerResponse, message: string) => {
  if (response.headersSent) return response.destroy()
  response.writeHead(503, {
    "content-type": "application/json",
    "retry-after": String(RETRY_AFTER_SECONDS),
    "x-content-type-options": "nosniff",
    "cache-control": "no-store"
  })
  response.end(JSON.stringify({ error: "service_unavailable", message }))
}

export const createRequestListener = (options: RequestListenerOptions): EmbeddedListener => {
  const handler = Layer.effect(
    Handler,
    Effect.gen(function* () {
      const router = yield* HttpLayerRouter.HttpRouter
      // Requests start from a small context (requestContext.ts).
      return yield* NodeHttpServer.makeHandler(router.asHttpEffect()).pipe(
        Effect.mapInputContext((_: Context.Context<never>) => requestBaseContext)
      )
    })
  ).pipe(
    Layer.provideMerge(AttestationApp.layer(options)),
    Layer.provide(HttpLayerRouter.layer),
    Layer.provide(NodeHttpServer.layerContext),
    Layer.provide(options.config ?? AppConfig.Default)
  )
  const runtime = ManagedRuntime.make(handler)
  let state: "starting" | "ready" | "failed" | "disposed" = "starting"
  let serve: NodeRequestListener | undefined

  const ready = runtime.runPromise(Effect.all([Handler, StartupReport])).then(
    ([built, report]) => {
      if (state === "starting") {
        serve = built
        state = "ready"
      }
      return report
    },
    (error: unknown) => {
      if (state === "starting") state = "failed"
      throw error
    }
  )
  // The caller sees a failure through `ready`; requests see it as 503. Not an unhandled rejection.
  ready.catch(() => {})

  const answer = (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (state === "ready" && serve !== undefined) return serve(request, response)
    refuse(response, state === "disposed" ? "the attestation service has stopped" : "the attestation service failed to start")
  }

  return {
    listener: (request, response) => {
      if (state === "starting") {
        ready.then(
          () => answer(request, response),
          () => answer(request, response)
        )
        return
      }
      answer(request, response)
    },
    ready,
    dispose: async () => {
      state = "disposed"
      serve = undefined
      await runtime.dispose()
    }
  }
}
