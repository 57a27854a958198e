/**
 * The extension contract, version 2 (docs/extensions.md).
 *
 * An extension is one value, made by `defineExtension`: its name, version and
 * description; the range of @itl-attestation/core it was built for; its SQL
 * migrations, scopes and event types; one Layer with its services and
 * background fibers; and its HTTP APIs, each declared together with its
 * handlers and its request pipeline (`serveApi`), so the documented routes and
 * the served routes are the same value and cannot drift.
 *
 * The layer and the handlers may use the ExtensionContext only — a read model
 * of machines, audited changes, the keyring, events, SQL, the host
 * environment and the request observers — and their own services.
 *
 * Values are recognised by their `_tag` and contract number, never by
 * `instanceof`: an extension built against another copy of this package
 * (its own node_modules) is still recognised, or refused with a clear reason.
 */
import type { HttpApi, HttpApiGroup } from "@effect/platform"
import { Data, type Layer } from "effect"
import semver from "semver"
import type { MigrationSet } from "../db/Migrations.js"
import type { ApiPipelineOptions } from "../http/ApiPipeline.js"
import type { ScopeDefinition } from "../authorization/Scope.js"
import type { EventDefinition } from "../events/EventDefinition.js"
import type { EndpointMiddleware, ExtensionContext } from "./ExtensionContext.js"
import { CORE_VERSION } from "../version.js"

/** What an extension's `core` range is checked against (version.ts). */
export { CORE_VERSION }

/** Bumped when the shape of an extension value changes incompatibly. */
export const EXTENSION_CONTRACT = 2

/** An HTTP API with the layer of its handlers and its pipeline, as one value. */
export interface ServedApi<R = unknown> {
  readonly _tag: "ServedApi"
  readonly api: HttpApi.HttpApi.AnyWithProps
  /** The layer of the API's handlers (`HttpApiBuilder.group` for each group). */
  readonly handlers: Layer.Layer<never, unknown, R>
  readonly pipeline: ApiPipelineOptions
}

/**
 * Declares an API together with its handlers. The handlers' layer must
 * implement every group of the API (a missing group does not compile).
 */
export const serveApi = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R, HE, HR>(
  api: HttpApi.HttpApi<Id, Groups, E, R>,
  handlers: Layer.Layer<HttpApiGroup.ApiGroup<Id, Groups["identifier"]>, HE, HR>,
  pipeline: ApiPipelineOptions = {}
): ServedApi<HR | R> => ({ _tag: "ServedApi", api: api as unknown as HttpApi.HttpApi.AnyWithProps, handlers, pipeline })

export interface ExtensionDefinition<ROut> {
  /** snake_case and unique, e.g. `secret_vault`; names its migration table `migrations_<name>`. */
  readonly name: string
  /** semver */
  readonly version: string
  readonly description: string
  /** The semver range of @itl-attestation/core the extension was built for, e.g. `^2.0.0`. */
  readonly core: string
  /** Run in key order (`0001_create_things`, …) before the extension's layer is built. */
  readonly migrations?: MigrationSet
  /** Its scopes (`defineScope`), registered before its migrations run; token creation accepts them. */
  readonly scopes?: ReadonlyArray<ScopeDefinition>
  /** The event types it appends (`defineEvent`, with a payload schema), registered in the event catalog before its migrations. */
  readonly events?: ReadonlyArray<EventDefinition>
  /** Services and background fibers. Its services are available to the handlers. */
  readonly layer?: Layer.Layer<ROut, unknown, ExtensionContext>
  readonly apis?: ReadonlyArray<ServedApi<ROut | ExtensionContext | EndpointMiddleware>>
}

export interface Extension extends ExtensionDefinition<any> {
  readonly _tag: "AttestationExtension"
  readonly contract: typeof EXTENSION_CONTRACT
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/

/** Checks the fields that the platform relies on; throws on a programming error in the extension itself. */
export const defineExtension = <ROut = never>(definition: ExtensionDefinition<ROut>): Extension => {
  if (!NAME.test(definition.name)) throw new Error(`extension name must be snake_case: ${JSON.stringify(definition.name)}`)
  if (semver.valid(definition.version) === null) throw new Error(`extension ${definition.name}: version must be semver`)
  if (semver.validRange(definition.core) === null) throw new Error(`extension ${definition.name}: core must be a semver range`)
  return { ...definition, _tag: "AttestationExtension", contract: EXTENSION_CONTRACT }
}

/** True for anything `defineExtension` made, from any copy of this package. */
export const isExtension = (value: unknown): value is Extension =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "AttestationExtension"

/**
 * Why this core cannot load `extension`, or undefined when it can: another
 * contract version, or a core range that excludes this version.
 */
export const incompatibility = (extension: Extension): string | undefined => {
  if (extension.contract !== EXTENSION_CONTRACT) {
    return `it was built for extension contract ${String(extension.contract)}; this core implements contract ${EXTENSION_CONTRACT}`
  }
  if (!semver.satisfies(CORE_VERSION, extension.core, { includePrerelease: true })) {
    return `it requires @itl-attestation/core ${extension.core}; this is ${CORE_VERSION}`
  }
  return undefined
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
 * Recognised by its tag (`isFatalExtensionError`), so one raised through
 * another copy of this package is just as fatal.
 */
export class FatalExtensionError extends Data.TaggedError("FatalExtensionError")<{ readonly message: string }> {}

export const isFatalExtensionError = (error: unknown): error is { readonly _tag: "FatalExtensionError"; readonly message: string } =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "FatalExtensionError"
