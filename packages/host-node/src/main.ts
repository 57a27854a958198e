/** `attestation serve`: run the server until SIGTERM/SIGINT. */
import { NodeRuntime } from "@effect/platform-node"
import { AppConfig, describeFailure } from "@itl-attestation/core"
import { Cause, Effect, Layer } from "effect"
import { loggingConfig, loggingLayer } from "./logging.js"
import { bannerLines, ConfigLive, RunningServer, serverLayer, type ServerOptions } from "./server.js"

/** One line for a startup failure: a bad variable, an unreadable file, a database that will not open. */
export const startupFailureLine = (cause: Cause.Cause<unknown>) => `attestation: cannot start: ${describeFailure(cause)}`

export const runServer = (options: ServerOptions = {}) => {
  // Everything this process writes (data directory, keys, database files) is
  // for its own user only; files that need other modes set them explicitly.
  process.umask(0o077)
  // Which signal ended the run, for the log; NodeRuntime.runMain's own handlers (registered after these) interrupt.
  let signal = "an interrupt"
  for (const name of ["SIGTERM", "SIGINT"] as const) process.once(name, () => (signal = name))
  const serve = Effect.gen(function* () {
    const info = yield* RunningServer
    const config = yield* AppConfig
    for (const line of bannerLines(info, config.dataDir)) console.log(line)
    // Runs before the server's finalizers: the first line an operator sees after the signal.
    return yield* Effect.never.pipe(
      Effect.onInterrupt(() => Effect.logInfo(`received ${signal}, shutting down (draining ${info.inFlight()} request(s))`))
    )
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
        : // Printed here, then the run fails so that runMain ends the process with code 1 itself: a
          // process.exitCode set here could be overwritten by whatever program called runServer.
          Effect.zipRight(
            Effect.sync(() => console.error(startupFailureLine(cause))),
            Effect.failCause(Cause.fail("start-up failed"))
          )
    )
  )
  NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
}
