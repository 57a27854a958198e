/**
 * The Node HTTP(S) server's life: it is bound once the app is built (server.ts)
 * and always has a request listener: 503 with Retry-After until `open`, then
 * the app. On shutdown it stops accepting, answers requests
 * that arrive on open keep-alive connections with 503 + `Connection: close`,
 * lets in-flight requests finish (bounded by ITL_SHUTDOWN_TIMEOUT), closes
 * the remaining connections, and only then lets the app's finalizers (the
 * database) run. At no point is an accepted request left without an answer.
 *
 * @effect/platform-node's own server listens as soon as it is built but
 * attaches its request handler only once the whole app is built, and detaches
 * it before shutdown: requests in between reached a server with no `request`
 * listener and were never answered. Hence this one, which always has one.
 */
import { Duration, Effect, type Scope } from "effect"
import type * as http from "node:http"

type NodeHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void

export interface Listener {
  readonly address: { readonly hostname: string; readonly port: number }
  /** Requests being answered now (for the shutdown log line). */
  readonly inFlight: () => number
  /** From now on requests go to `handler`; closing the scope drains them (see above). */
  readonly open: (handler: NodeHandler) => Effect.Effect<void, never, Scope.Scope>
}

/** How long a client should wait before retrying while the server starts or stops. */
const RETRY_AFTER_SECONDS = 1
/** After draining, how long a just-written 503 may take to flush before its connection is cut. */
const CLOSE_GRACE = Duration.seconds(1)

const refuse = (response: http.ServerResponse, message: string) => {
  response.shouldKeepAlive = false
  response.writeHead(503, {
    "content-type": "application/json",
    "retry-after": String(RETRY_AFTER_SECONDS),
    // The headers every answer of the app carries (core http/responseHeaders.ts).
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    connection: "close"
  })
  response.end(JSON.stringify({ error: "service_unavailable", message }))
}

/** Why the port could not be bound, and what to change: the operator sees this line and nothing else. */
const listenFailure = (error: NodeJS.ErrnoException, { host, port }: { readonly host: string; readonly port: number }) => {
  switch (error.code) {
    case "EADDRINUSE":
      return `port ${port} on ${host} is already in use; stop the other process or set ITL_PORT`
    case "EADDRNOTAVAIL":
      return `ITL_HOST ${host} is not an address of this machine; set ITL_HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for every interface)`
    case "EACCES":
    case "EPERM":
      return `permission denied to listen on port ${port} on ${host}: ports below 1024 need privileges; set ITL_PORT to 1024 or above, or grant the process CAP_NET_BIND_SERVICE`
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return `ITL_HOST ${host} does not resolve to an address; set ITL_HOST to an address of this machine (127.0.0.1, or 0.0.0.0 for every interface)`
    default:
      return `cannot listen on ${host}:${port} (ITL_HOST, ITL_PORT): ${error.message || error.code || String(error)}`
  }
}

export const listen = (
  create: () => http.Server,
  options: { readonly port: number; readonly host: string; readonly shutdownTimeout: Duration.Duration }
): Effect.Effect<Listener, Error, Scope.Scope> =>
  Effect.gen(function* () {
    let state: "starting" | "ready" | "draining" = "starting"
    let handler: NodeHandler | undefined
    const inFlight = new Set<http.ServerResponse>()
    let settled: (() => void) | undefined

    const server = create()
    let closed = false
    server.once("close", () => (closed = true))
    server.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (state === "starting" || handler === undefined) return refuse(response, "the server is starting")
      if (state === "draining") return refuse(response, "the server is shutting down")
      inFlight.add(response)
      response.once("close", () => {
        inFlight.delete(response)
        if (state === "draining" && inFlight.size === 0) settled?.()
      })
      handler(request, response)
    })

    yield* Effect.acquireRelease(
      Effect.async<void, Error>((resume) => {
        const onError = (error: Error) => resume(Effect.fail(new Error(listenFailure(error, options))))
        server.once("error", onError)
        server.listen({ port: options.port, host: options.host }, () => {
          server.off("error", onError)
          resume(Effect.void)
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          if (closed) return resume(Effect.void)
          const timer = setTimeout(() => server.closeAllConnections(), Duration.toMillis(CLOSE_GRACE))
          server.once("close", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          if (server.listening) server.close()
          server.closeIdleConnections()
        })
    )
    const bound = server.address()
    const address =
      typeof bound === "object" && bound !== null
        ? { hostname: bound.address === "::" ? "0.0.0.0" : bound.address, port: bound.port }
        : { hostname: options.host, port: options.port }

    const drain = Effect.gen(function* () {
      state = "draining"
      // Stops accepting; connections already open stay until closed below.
      server.close()
      const pending = inFlight.size
      yield* Effect.logInfo(
        `shutting down: stopped accepting connections; ${pending} request(s) in flight, waiting up to ${Duration.format(options.shutdownTimeout)} (ITL_SHUTDOWN_TIMEOUT)`
      )
      // Responses not yet started carry `Connection: close`, and their connection ends after them.
      for (const response of inFlight) if (!response.headersSent) response.shouldKeepAlive = false
      // Own timer rather than Effect.timeout: finalizers are uninterruptible, so a timeout could not stop the wait.
      const finished = yield* Effect.async<boolean>((resume) => {
        if (inFlight.size === 0) return resume(Effect.succeed(true))
        const timer = setTimeout(() => resume(Effect.succeed(false)), Duration.toMillis(options.shutdownTimeout))
        settled = () => {
          clearTimeout(timer)
          resume(Effect.succeed(true))
        }
      })
      if (finished) {
        yield* Effect.logInfo(`shutting down: ${pending} in-flight request(s) finished`)
      } else {
        yield* Effect.logWarning(
          `shutting down: ${inFlight.size} request(s) still running after ${Duration.format(options.shutdownTimeout)} (ITL_SHUTDOWN_TIMEOUT); closing their connections`
        )
        server.closeAllConnections()
      }
      // Idle keep-alive connections are closed last, not at once: a request a client
      // already sent may still sit unread in the socket, and closing would reset it.
      // While in-flight requests finished, such requests were read and answered 503;
      // one more turn of the event loop reads any that arrived just now.
      yield* Effect.async<void>((resume) => {
        setImmediate(() => setImmediate(() => resume(Effect.void)))
      })
      server.closeIdleConnections()
    })

    return {
      address,
      inFlight: () => inFlight.size,
      open: (next) =>
        Effect.gen(function* () {
          handler = next
          state = "ready"
          yield* Effect.addFinalizer(() => drain)
        })
    } satisfies Listener
  })
