/** The deployment runner's settings, read once through Effect Config (docs/configuration.md, docs/pulumi.md "Deployments"). */
import { describeFailure, FatalExtensionError, HostEnvironment } from "@itl-attestation/core"
import { Config, type ConfigError, Effect, Option } from "effect"
import { parseAllowlist } from "./source.js"

export interface DeployConfigShape {
  /** Repository URL prefixes a deployment may clone from; empty: no deployment is accepted. */
  readonly allowlist: ReadonlyArray<string>
  /** Deployments one instance runs at once. */
  readonly concurrency: number
  /** The `pulumi` executable (a path, or a name looked up on PATH). */
  readonly pulumiCli: string
  /** The URL the runner's `pulumi` logs in to: this server, as the runner's host reaches it. */
  readonly backendUrl: string
  /** Longest run of one deployment (clone, install and pulumi together), in ms. */
  readonly timeoutMs: number
  /** Most bytes of output kept per deployment (after redaction). */
  readonly maxLogBytes: number
  /** Where clones are made (each deployment in a fresh directory removed after the run). */
  readonly workDir: string
  /** PATH and HOME given to the runner's processes (nothing else of the server's environment is). */
  readonly path: string
  readonly home: Option.Option<string>
}

export const deployConfig = (dataDir: string): Config.Config<DeployConfigShape> =>
  Config.all({
    allowlist: Config.string("ITL_PULUMI_DEPLOY_REPO_ALLOWLIST").pipe(
      Config.validate({
        message: "must be comma-separated URL prefixes (https://, http://, ssh://, git:// or file://) without credentials",
        validation: (value) => parseAllowlist(value) !== undefined
      }),
      Config.map((value) => parseAllowlist(value)!),
      Config.withDefault([] as ReadonlyArray<string>)
    ),
    concurrency: Config.integer("ITL_PULUMI_DEPLOY_CONCURRENCY").pipe(
      Config.validate({ message: "must be an integer from 1 to 64", validation: (n) => n >= 1 && n <= 64 }),
      Config.withDefault(1)
    ),
    pulumiCli: Config.string("ITL_PULUMI_CLI").pipe(Config.withDefault("pulumi")),
    backendUrl: Config.all({
      explicit: Config.string("ITL_PULUMI_DEPLOY_BACKEND_URL").pipe(
        Config.validate({ message: "must be an http(s) URL", validation: (v) => /^https?:\/\/[^\s]+$/.test(v) }),
        Config.option
      ),
      // The server's own listener (host-node's defaults); with TLS the certificate must name 127.0.0.1, or set the URL.
      port: Config.integer("ITL_PORT").pipe(Config.withDefault(9000)),
      tls: Config.string("ITL_TLS_CERT").pipe(Config.option)
    }).pipe(
      Config.map(({ explicit, port, tls }) =>
        Option.getOrElse(explicit, () => `${Option.isSome(tls) ? "https" : "http"}://127.0.0.1:${port}`).replace(/\/+$/, "")
      )
    ),
    timeoutMs: Config.integer("ITL_PULUMI_DEPLOY_TIMEOUT_SECONDS").pipe(
      Config.validate({ message: "must be an integer of seconds from 10 to 86400", validation: (n) => n >= 10 && n <= 86400 }),
      Config.withDefault(3600),
      Config.map((s) => s * 1000)
    ),
    maxLogBytes: Config.integer("ITL_PULUMI_DEPLOY_MAX_LOG_BYTES").pipe(
      Config.validate({ message: "must be an integer from 1024 to 67108864", validation: (n) => n >= 1024 && n <= 64 * 1024 * 1024 }),
      Config.withDefault(1024 * 1024)
    ),
    workDir: Config.string("ITL_PULUMI_DEPLOY_WORK_DIR").pipe(Config.withDefault(`${dataDir}/pulumi-deployments`)),
    path: Config.string("PATH").pipe(Config.withDefault("/usr/local/bin:/usr/bin:/bin")),
    home: Config.string("HOME").pipe(Config.option)
  })

/** Read once when the extension loads; a malformed value stops the start with one line naming the variable. */
export class DeploySettings extends Effect.Service<DeploySettings>()("@itl-attestation/pulumi-state/DeploySettings", {
  effect: Effect.gen(function* () {
    const host = yield* HostEnvironment
    return yield* deployConfig(host.dataDir)
  }).pipe(Effect.mapError((error: ConfigError.ConfigError) => new FatalExtensionError({ message: describeFailure(error) })))
}) {}
