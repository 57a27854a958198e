/**
 * The extension contract (docs/architecture.md). An extension is a value: its name,
 * version, description, SQL migrations, and one Layer that contributes its
 * routes (through its own HttpApi and `HttpLayerRouter.addHttpApi`), its
 * services and its background fibers. It depends on the core only.
 */
import type { HttpApi } from "@effect/platform"
import { Data, type Layer } from "effect"
import type { MigrationSet } from "../db/Migrations.js"
import type { EventDefinition } from "../events/EventDefinition.js"
import type { CoreServices } from "./CoreServices.js"

export interface Extension {
  /** snake_case and unique, e.g. `secret_vault`; names its migration table `migrations_<name>`. */
  readonly name: string
  /** semver */
  readonly version: string
  readonly description: string
  /** Run in key order (`0001_create_things`, …) before the extension's layer is built. */
  readonly migrations: MigrationSet
  /**
   * Routes + services + background fibers. Build services before registering
   * routes (provide the handlers' dependencies to `addHttpApi`), so that a
   * layer that fails leaves no half-registered routes behind.
   */
  readonly layer: Layer.Layer<never, unknown, CoreServices>
  /** The extension's HttpApi, merged into `/openapi.json` and `/docs`. */
  readonly api?: HttpApi.HttpApi.Any
  /** The event types the extension appends (`defineEvent`), registered in the event catalog before its migrations. */
  readonly events?: ReadonlyArray<EventDefinition>
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/
const SEMVER = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/

/** Checks the fields that the platform relies on; throws on a programming error in the extension itself. */
export const defineExtension = <const E extends Extension>(extension: E): E => {
  if (!NAME.test(extension.name)) throw new Error(`extension name must be snake_case: ${JSON.stringify(extension.name)}`)
  if (!SEMVER.test(extension.version)) throw new Error(`extension ${extension.name}: version must be semver`)
  return extension
}

export interface ExtensionInfo {
  readonly name: string
  readonly version: string
  readonly description: string
}

/**
 * Fail an extension's layer with this to stop the whole start instead of
 * leaving the extension out: for misconfiguration that must not be papered
 * over, such as a key that cannot open the data the extension protects.
 */
export class FatalExtensionError extends Data.TaggedError("FatalExtensionError")<{ readonly message: string }> {}
