/**
 * Facts about the installation an extension may need to decide its own
 * defaults (secret_vault generates a key file only on the embedded database).
 * Extensions read their own settings with Effect `Config`; the host decides
 * where configuration comes from (environment, a map in tests).
 */
import { Context, Effect, Layer, Option } from "effect"
import { AppConfig } from "../config/AppConfig.js"

export interface HostEnvironmentShape {
  /** True when the platform runs on its embedded database (PGlite), not a PostgreSQL server. */
  readonly embeddedDatabase: boolean
  /** The platform's data directory (embedded database, generated keys). */
  readonly dataDir: string
  /** The version of @itl-attestation/core serving the extension. */
  readonly coreVersion: string
}

export class HostEnvironment extends Context.Tag("@itl-attestation/core/HostEnvironment")<HostEnvironment, HostEnvironmentShape>() {}

export const hostEnvironmentLayer = (coreVersion: string) =>
  Layer.effect(
    HostEnvironment,
    Effect.map(AppConfig, (config) => ({ embeddedDatabase: Option.isNone(config.databaseUrl), dataDir: config.dataDir, coreVersion }))
  )
