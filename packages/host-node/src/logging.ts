/**
 * ITL_LOG_LEVEL and ITL_LOG_FORMAT. Names are case-insensitive; Effect's own
 * names (`Warning`, `None`, …) and labels (`WARN`, `OFF`) are accepted too. An
 * unknown value stops the start with one line naming the variable, like every
 * other setting.
 */
import { Config, Layer, Logger, LogLevel } from "effect"

const levels: Record<string, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  warn: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None,
  off: LogLevel.None
}

const formats = { logfmt: Logger.logFmt, json: Logger.json, pretty: Logger.pretty } as const

/** Validated before the default, so that the error names the variable. */
const oneOf = <A>(name: string, choices: Record<string, A>, documented: ReadonlyArray<string>, fallback: A) =>
  Config.string(name).pipe(
    Config.validate({
      message: `must be one of ${documented.join(", ")} (case-insensitive)`,
      validation: (value) => Object.hasOwn(choices, value.trim().toLowerCase())
    }),
    Config.map((value) => choices[value.trim().toLowerCase()]!),
    Config.withDefault(fallback)
  )

export const loggingConfig = Config.all({
  level: oneOf("ITL_LOG_LEVEL", levels, ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"], LogLevel.Info),
  logger: oneOf("ITL_LOG_FORMAT", formats, ["logfmt", "json", "pretty"], formats.logfmt)
})

export const loggingLayer = (settings: Config.Config.Success<typeof loggingConfig>) =>
  Layer.merge(Logger.minimumLogLevel(settings.level), settings.logger)
