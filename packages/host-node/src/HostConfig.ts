/** host-node's own settings: where to listen, TLS, which extensions to load. */
import { Config, Context, Duration, Layer, Option } from "effect"

export interface HostConfigShape {
  readonly port: number
  readonly host: string
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly tlsClientCa: Option.Option<string>
  /** Extra extension modules to import (package names or paths). */
  readonly extensions: ReadonlyArray<string>
  readonly disabledExtensions: ReadonlyArray<string>
  /** On SIGTERM/SIGINT, how long in-flight requests may take before their connections are closed. */
  readonly shutdownTimeout: Duration.Duration
}

const list = (name: string) =>
  Config.string(name).pipe(
    Config.withDefault(""),
    Config.map((value) => value.split(",").map((s) => s.trim()).filter((s) => s.length > 0))
  )

export const hostConfig: Config.Config<HostConfigShape> = Config.all({
  // 0 asks the OS for a free port (tests, side-by-side instances).
  // (validate before withDefault: the other order loses the variable's name in the error)
  port: Config.integer("ITL_PORT").pipe(
    Config.validate({ message: "must be a port number from 0 to 65535", validation: (p) => p >= 0 && p <= 65535 }),
    Config.withDefault(9000)
  ),
  host: Config.string("ITL_HOST").pipe(Config.withDefault("127.0.0.1")),
  tlsCert: Config.option(Config.string("ITL_TLS_CERT")),
  tlsKey: Config.option(Config.string("ITL_TLS_KEY")),
  tlsClientCa: Config.option(Config.string("ITL_TLS_CLIENT_CA")),
  extensions: list("ITL_EXTENSIONS"),
  disabledExtensions: list("ITL_DISABLED_EXTENSIONS"),
  shutdownTimeout: Config.duration("ITL_SHUTDOWN_TIMEOUT").pipe(
    Config.validate({ message: "must be a duration, e.g. `10 seconds`", validation: (d) => Duration.toMillis(d) >= 0 }),
    Config.withDefault(Duration.seconds(10))
  )
}).pipe(
  Config.validate({
    message: "ITL_TLS_CERT and ITL_TLS_KEY must be set together (and ITL_TLS_CLIENT_CA needs both)",
    validation: (c) =>
      Option.isSome(c.tlsCert) === Option.isSome(c.tlsKey) && (Option.isNone(c.tlsClientCa) || Option.isSome(c.tlsCert))
  })
)

export class HostConfig extends Context.Tag("@itl-attestation/host-node/HostConfig")<HostConfig, HostConfigShape>() {
  static readonly Default = Layer.effect(HostConfig, hostConfig)
}
