/** `attestation serve`: run the server until SIGTERM/SIGINT. */
import { NodeRuntime } from "@effect/platform-node"
import { AppConfig, type Extension } from "@itl-attestation/core"
import { Cause, Config, ConfigError, Effect, Layer, Logger, LogLevel } from "effect"
import { bannerLines, ConfigLive, RunningServer, serverLayer } from "./server.js"

const logSettings = Layer.unwrapEffect(
  Effect.gen(function* () {
    const level = yield* Config.logLevel("ITL_LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
    const format = yield* Config.literal("pretty", "json", "logfmt")("ITL_LOG_FORMAT").pipe(Config.withDefault("logfmt" as const))
    const logger = format === "json" ? Logger.json : format === "pretty" ? Logger.pretty : Logger.logFmt
    return Layer.merge(Logger.minimumLogLevel(level), logger)
  })
)

/** One line for a startup failure: a bad variable, an unreadable file, a database that will not open. */
export const startupFailureLine = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  // A ConfigError's own message lacks the variable; its string form names it.
  const message = ConfigError.isConfigError(error) ? String(error) : error instanceof Error ? error.message : typeof error === "object" && error !== null && "message" in error ? String((error as { message: unknown }).message) : String(error)
  return `attestation: cannot start: ${message.replace(/\s*\n\s*/g, " ")}`
}

export const runServer = (options: { readonly builtins?: ReadonlyArray<Extension> } = {}) => {
  const program = Effect.gen(function* () {
    const info = yield* RunningServer
    const config = yield* AppConfig
    for (const line of bannerLines(info, config.dataDir)) console.log(line)
    return yield* Effect.never
  }).pipe(
    Effect.provide(serverLayer(options).pipe(Layer.provideMerge(ConfigLive))),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.void
        : Effect.sync(() => {
            console.error(startupFailureLine(cause))
            process.exitCode = 1
          })
    ),
    Effect.provide(logSettings.pipe(Layer.catchAll(() => Layer.empty)))
  )
  NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
}

