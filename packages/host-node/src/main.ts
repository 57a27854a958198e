/** `attestation serve`: run the server until SIGTERM/SIGINT. */
import { NodeRuntime } from "@effect/platform-node"
import { AppConfig } from "@itl-attestation/core"
import { Cause, ConfigError, Effect, Layer } from "effect"
import { loggingConfig, loggingLayer } from "./logging.js"
import { bannerLines, ConfigLive, RunningServer, serverLayer, type ServerOptions } from "./server.js"

/** One line for a startup failure: a bad variable, an unreadable file, a database that will not open. */
export const startupFailureLine = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  // A ConfigError's own message lacks the variable; its string form names it.
  const message = ConfigError.isConfigError(error) ? String(error) : error instanceof Error ? error.message : typeof error === "object" && error !== null && "message" in error ? String((error as { message: unknown }).message) : String(error)
  return `attestation: cannot start: ${message.replace(/\s*\n\s*/g, " ")}`
}

export const runServer = (options: ServerOptions = {}) => {
  // Everything this process writes (data directory, keys, database files) is
  // for its own user only; files that need other modes set them explicitly.
  process.umask(0o077)
  const serve = Effect.gen(function* () {
    const info = yield* RunningServer
    const config = yield* AppConfig
    for (const line of bannerLines(info, config.dataDir)) console.log(line)
    return yield* Effect.never
  }).pipe(Effect.provide(serverLayer(options).pipe(Layer.provideMerge(ConfigLive))))
  const program = Effect.gen(function* () {
    const logging = yield* loggingConfig
    // Logged after every finalizer ran (requests drained, database closed).
    return yield* serve.pipe(
      Effect.onInterrupt(() => Effect.logInfo("stopped")),
      Effect.provide(loggingLayer(logging))
    )
  }).pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.void
        : Effect.sync(() => {
            console.error(startupFailureLine(cause))
            process.exitCode = 1
          })
    )
  )
  NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
}
