/**
 * Core configuration, read once from the environment through Effect `Config`.
 * Nothing else in the core reads `process.env`: tests provide a ConfigProvider.
 */
import { Config, Context, Duration, Layer, Option, Redacted } from "effect"

export interface AppConfigShape {
  /** PostgreSQL URL; none means the embedded PGlite database. */
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  /** How long to wait for an unreachable PostgreSQL at start-up before giving up. */
  readonly databaseConnectTimeout: Duration.Duration
  /**
   * Set by `AttestationApp` when the embedding application supplies the
   * database (a pool or a client; not read from the environment). The
   * platform then treats it as PostgreSQL, never as the embedded default: no
   * generated master key or admin token in the data directory.
   */
  readonly hostDatabase?: boolean
  /** Where the embedded database and generated keys live. */
  readonly dataDir: string
  readonly adminToken: Option.Option<Redacted.Redacted<string>>
  readonly masterKey: Option.Option<Redacted.Redacted<string>>
  /** The master key before a rotation: still opens old ciphertexts. */
  readonly masterKeyPrevious: Option.Option<Redacted.Redacted<string>>
  readonly maxBodyBytes: number
  /** Role given to operators identified by a verified mTLS client certificate. */
  readonly tlsClientRole: "admin" | "operator" | "viewer"
  readonly tpm: TpmConfig
}

export interface TpmConfig {
  /** File or directory of PEM/DER CA certificates that EK certificate chains must reach. */
  readonly caBundle: Option.Option<string>
  /** Refuse machines whose EK certificate chain is not verified against the bundle. */
  readonly requireEkCert: boolean
  /** `trust-on-approve`: the first good quote after approval becomes the machine's policy; `require`: a policy must be set. */
  readonly pcrPolicyMode: "trust-on-approve" | "require"
  readonly machineSessionTtl: Duration.Duration
  readonly maxFailedAttestations: number
  /** `session` (TPM-backed session tokens) or the insecure compatibility `ek-fingerprint-header`. */
  readonly machineAuth: "session" | "ek-fingerprint-header"
  /** New EKs one client address may register per window (0: no limit). */
  readonly registrationLimit: number
  readonly registrationLimitWindow: Duration.Duration
  /** Attestations one client address may send per window whose evidence the machine's AK did not sign (0: no limit). */
  readonly unverifiedAttestLimit: number
  readonly unverifiedAttestLimitWindow: Duration.Duration
}

const hex64 = /^[0-9a-fA-F]{64}$/

/** Validated as a plain string (so the error names the variable), then kept redacted. */
const secret = (name: string, message: string, validation: (value: string) => boolean) =>
  Config.string(name).pipe(Config.validate({ message, validation }), Config.map(Redacted.make))

const hexKey = (name: string) => secret(name, "must be 64 hexadecimal characters (32 bytes); make one with `openssl rand -hex 32`", (key) => hex64.test(key))

/** A rate limit's count: a non-negative integer, 0 turning the limit off. */
const count = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "must be a non-negative integer (0 turns the limit off)", validation: (n) => n >= 0 }),
    Config.withDefault(fallback)
  )

const window = (name: string, fallback: Duration.Duration) =>
  Config.duration(name).pipe(
    Config.validate({ message: "must be a positive duration, e.g. `1 hour`", validation: (d) => Duration.toMillis(d) > 0 }),
    Config.withDefault(fallback)
  )

export const appConfig: Config.Config<AppConfigShape> = Config.all({
  databaseUrl: Config.option(Config.redacted("ITL_DATABASE_URL")),
  databaseConnectTimeout: Config.duration("ITL_DATABASE_CONNECT_TIMEOUT").pipe(
    Config.validate({ message: "must be a duration, e.g. `60 seconds` (0: do not wait)", validation: (d) => Duration.toMillis(d) >= 0 }),
    Config.withDefault(Duration.seconds(60))
  ),
  dataDir: Config.string("ITL_DATA_DIR").pipe(Config.withDefault("./.attestation")),
  adminToken: Config.option(secret("ITL_ADMIN_TOKEN", "must be at least 16 characters", (token) => token.length >= 16)),
  masterKey: Config.option(hexKey("ITL_MASTER_KEY")),
  masterKeyPrevious: Config.option(hexKey("ITL_MASTER_KEY_PREVIOUS")),
  maxBodyBytes: Config.integer("ITL_MAX_BODY_BYTES").pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(1024 * 1024)
  ),
  tlsClientRole: Config.literal("admin", "operator", "viewer")("ITL_TLS_CLIENT_ROLE").pipe(
    Config.withDefault("operator" as const)
  ),
  tpm: Config.all({
    caBundle: Config.option(Config.string("ITL_TPM_CA_BUNDLE")),
    requireEkCert: Config.boolean("ITL_REQUIRE_EK_CERT").pipe(Config.withDefault(false)),
    pcrPolicyMode: Config.literal("trust-on-approve", "require")("ITL_PCR_POLICY").pipe(
      Config.withDefault("trust-on-approve" as const)
    ),
    machineSessionTtl: Config.duration("ITL_MACHINE_SESSION_TTL").pipe(
      Config.validate({ message: "must be a positive duration, e.g. `1 hour`", validation: (d) => Duration.toMillis(d) > 0 }),
      Config.withDefault(Duration.hours(1))
    ),
    maxFailedAttestations: Config.integer("ITL_MAX_FAILED_ATTESTATIONS").pipe(
      Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
      Config.withDefault(5)
    ),
    machineAuth: Config.literal("session", "ek-fingerprint-header")("ITL_MACHINE_AUTH").pipe(
      Config.withDefault("session" as const)
    ),
    registrationLimit: count("ITL_REGISTRATION_LIMIT", 100),
    registrationLimitWindow: window("ITL_REGISTRATION_LIMIT_WINDOW", Duration.hours(1)),
    unverifiedAttestLimit: count("ITL_UNVERIFIED_ATTEST_LIMIT", 10),
    unverifiedAttestLimitWindow: window("ITL_UNVERIFIED_ATTEST_LIMIT_WINDOW", Duration.minutes(10))
  })
})

export class AppConfig extends Context.Tag("@itl-attestation/core/AppConfig")<AppConfig, AppConfigShape>() {
  static readonly Default = Layer.effect(AppConfig, appConfig)
  static readonly make = (config: AppConfigShape) => Layer.succeed(AppConfig, config)
}

export const isEmbedded = (config: AppConfigShape) => Option.isNone(config.databaseUrl) && config.hostDatabase !== true

