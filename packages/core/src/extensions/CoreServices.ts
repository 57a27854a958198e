/** Everything an extension's layer may use from the core. */
import type { Etag, FileSystem, HttpLayerRouter, HttpPlatform, Path } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import type { AuditLog } from "../audit/AuditLog.js"
import type { AppConfig } from "../config/AppConfig.js"
import type { DatabaseInfo } from "../db/Database.js"
import type { EventCatalog } from "../events/EventCatalog.js"
import type { Events } from "../events/Events.js"
import type { Keyring } from "../keyring/Keyring.js"
import type { MasterKeyRewrap } from "../keyring/Rewrap.js"
import type { Machines } from "../machines/Machines.js"
import type { Attestation } from "../attestation/Attestation.js"
import type { MachineRepo } from "../machines/MachineRepo.js"
import type { Authentication, RequireAdmin, RequireOperator, RequireViewer } from "../operators/Authentication.js"
import type { MachineAuthentication } from "../sessions/MachineAuthentication.js"
import type { MachineSessions } from "../sessions/MachineSessions.js"
import type { OperatorTokens } from "../operators/OperatorTokens.js"
import type { ExtensionRegistry } from "./ExtensionRegistry.js"

export type CoreServices =
  | AppConfig
  | SqlClient.SqlClient
  | PgClient.PgClient
  | DatabaseInfo
  | Keyring
  | MasterKeyRewrap
  | Events
  | EventCatalog
  | AuditLog
  | OperatorTokens
  | Machines
  | ExtensionRegistry
  | Authentication
  | RequireViewer
  | RequireOperator
  | RequireAdmin
  | MachineAuthentication
  | MachineSessions
  | MachineRepo
  | Attestation
  | HttpLayerRouter.HttpRouter
  | Etag.Generator
  | FileSystem.FileSystem
  | HttpPlatform.HttpPlatform
  | Path.Path
