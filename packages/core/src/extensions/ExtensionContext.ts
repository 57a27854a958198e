/**
 * What an extension's layer and handlers may use from the core — and nothing
 * else. Each is a narrow view made for extensions:
 *
 * - `SqlClient` — the platform's database (extension tables are prefixed `extension_`);
 * - `MachineDirectory` — machines, read-only (get, exists, list, enrolled keys);
 * - `AuditedChanges` — a change, its audit row and its events in one transaction;
 * - `Keyring` — envelope encryption with AAD; `MasterKeyRewrap` — register sealed columns;
 * - `EventBus` — subscribe, durable consumers;
 * - `HostEnvironment` — embedded or not, data directory, core version;
 * - `RequestObservers` — a hook on every request (method, route, status, duration);
 * - `AuditFeed` — the audit entries as they are sealed (action, target type, actor kind);
 * - `Measurements` — counters an extension declares and increments, for exporters;
 * - `OperatorCredentials` — who an operator token is and its scopes, for an
 *   extension whose clients send the token in a header scheme of their own.
 *
 * Endpoints declare their policies with `requireScope(scope)` and machine
 * endpoints with `MachineAuthentication` (`EndpointMiddleware`); the core
 * implements them when it serves the API. `Authorized<scope>` — the proof a
 * policy gives a handler — is deliberately not in the context: only an
 * endpoint that declares the policy can call an operation that needs it.
 */
import type { SqlClient } from "@effect/sql"
import type { AuditedChanges } from "../audit/AuditedChanges.js"
import type { EventBus } from "../events/EventBus.js"
import type { AuditFeed } from "../audit/AuditFeed.js"
import type { RequestObservers } from "../http/RequestObservers.js"
import type { Measurements } from "../observability/Measurements.js"
import type { OperatorCredentials } from "../operators/OperatorCredentials.js"
import type { Keyring } from "../keyring/Keyring.js"
import type { MasterKeyRewrap } from "../keyring/Rewrap.js"
import type { MachineDirectory } from "../machines/MachineDirectory.js"
import type { PolicyMiddleware } from "../authorization/Policy.js"
import type { MachineAuthentication } from "../sessions/MachineAuthentication.js"
import type { HostEnvironment } from "./HostEnvironment.js"

export type ExtensionContext =
  | SqlClient.SqlClient
  | MachineDirectory
  | AuditedChanges
  | Keyring
  | MasterKeyRewrap
  | EventBus
  | HostEnvironment
  | RequestObservers
  | AuditFeed
  | Measurements
  | OperatorCredentials

/** The security middlewares an endpoint may declare; implemented by the core. */
export type EndpointMiddleware = PolicyMiddleware<string> | MachineAuthentication
