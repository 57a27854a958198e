/**
 * The `database` option of AttestationApp: where the platform's SQL goes when
 * the embedding application decides rather than the environment.
 *
 * - `{ url }`: a PostgreSQL connection string. It replaces ITL_DATABASE_URL;
 *   the platform creates the pool (waiting for the server like at a normal
 *   start) and ends it on dispose.
 * - `{ pool }`: an existing `pg.Pool`. The platform borrows it and never ends it.
 * - `{ client }`: a `Layer` of the application's own `PgClient`. Whoever builds
 *   that layer owns it; provide the same layer value to both in one build and
 *   Effect builds it once.
 *
 * With any of them the database counts as PostgreSQL (not the embedded
 * default): ITL_MASTER_KEY is required, and no admin token is generated.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import { HostDatabase, type PgPool } from "../db/HostDatabase.js"

export type { PgPool } from "../db/HostDatabase.js"

export type DatabaseOption =
  | { readonly url: string | Redacted.Redacted<string> }
  | { readonly pool: PgPool }
  | { readonly client: Layer.Layer<PgClient.PgClient, unknown> }

const configured = (option: DatabaseOption) =>
  Layer.effect(
    AppConfig,
    Effect.map(AppConfig, (config) =>
      "url" in option
        ? {
            ...config,
            databaseUrl: Option.some(typeof option.url === "string" ? Redacted.make(option.url) : option.url),
            hostDatabase: true
          }
        : { ...config, hostDatabase: true }
    )
  )

const chosen = (option: DatabaseOption) =>
  Layer.succeed(
    HostDatabase,
    "pool" in option
      ? { _tag: "Pool" as const, pool: option.pool }
      : "client" in option
        ? { _tag: "Client" as const, layer: option.client }
        : undefined
  )

/** Points the platform's layer at the chosen database; without an option, at the one AppConfig names. */
export const withDatabase =
  (option: DatabaseOption | undefined) =>
  <A, E, R>(app: Layer.Layer<A, E, R>): Layer.Layer<A, E, R | AppConfig> =>
    option === undefined ? app : app.pipe(Layer.provide(Layer.merge(configured(option), chosen(option))))
