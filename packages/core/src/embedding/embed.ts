/**
 * Applies the embedding options of AttestationApp (`prefix`, `database`) to
 * the app's layer, so that AttestationApp.ts only has to call this once.
 */
import type { HttpLayerRouter } from "@effect/platform"
import { Effect, Layer } from "effect"
import type { AppConfig } from "../config/AppConfig.js"
import { type DatabaseOption, withDatabase } from "./database.js"
import { type InvalidPrefix, MountPrefix, mountedUnder, normalizePrefix } from "./prefix.js"

export interface EmbeddingOptions {
  /** Serve every route under this path, e.g. "/attestation" (default: at the root). */
  readonly prefix?: string
  /** Use this database instead of the one AppConfig names (embedding/database.ts). */
  readonly database?: DatabaseOption
}

export const embed =
  (options: EmbeddingOptions) =>
  <A, E, R>(app: Layer.Layer<A, E, R>): Layer.Layer<A, E | InvalidPrefix, R | AppConfig | HttpLayerRouter.HttpRouter> =>
    Layer.unwrapEffect(
      Effect.map(normalizePrefix(options.prefix), (prefix) =>
        app.pipe(Layer.provide(Layer.succeed(MountPrefix, prefix)), mountedUnder(prefix), withDatabase(options.database))
      )
    )
