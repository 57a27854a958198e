/**
 * The database an embedding example runs on, as an application would have
 * it: on PostgreSQL (TEST_DATABASE_URL) a pool the application owns and lends
 * the platform; otherwise the platform's own embedded PGlite. `config` is the
 * platform's configuration for it, read from a map rather than process.env.
 */
import { AppConfig, appConfig } from "@itl-attestation/core"
import { ConfigProvider, Layer } from "effect"
import type pg from "pg"
import { freshDatabase } from "./database.js"
import { freshPool } from "./hostPool.js"

export interface ExampleDatabase {
  /** The application's pool on PostgreSQL; undefined on PGlite. */
  readonly pool: pg.Pool | undefined
  readonly config: (extra?: Record<string, string>) => Layer.Layer<AppConfig>
  readonly cleanup: () => Promise<void>
}

export const exampleDatabase = async (): Promise<ExampleDatabase> => {
  const owned = process.env.TEST_DATABASE_URL ? await freshPool() : undefined
  const embedded = owned === undefined ? await freshDatabase() : undefined
  const env = owned?.env ?? embedded!.env
  return {
    pool: owned?.pool,
    config: (extra = {}) =>
      Layer.effect(AppConfig, appConfig).pipe(
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ ...env, ...extra })))))
      ),
    cleanup: async () => {
      await owned?.cleanup()
      await embedded?.cleanup()
    }
  }
}
