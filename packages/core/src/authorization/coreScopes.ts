/** The core's scopes, one per area and kind of action of its operator endpoints. */
import { defineScope } from "./Scope.js"

export const MachinesRead = defineScope({
  name: "machines:read",
  description: "List and read machines and their PCR policies",
  grantedTo: "viewer"
})
export const MachinesWrite = defineScope({
  name: "machines:write",
  description: "Approve, reject, lock, unlock and revoke machines; set PCR policies",
  grantedTo: "operator"
})
export const MachinesAdmin = defineScope({ name: "machines:admin", description: "Delete machines", grantedTo: "admin" })
export const AuditRead = defineScope({ name: "audit:read", description: "Read and verify the audit log", grantedTo: "viewer" })
export const EventsRead = defineScope({ name: "events:read", description: "Read the event catalog and event consumers", grantedTo: "viewer" })
export const EventsWrite = defineScope({
  name: "events:write",
  description: "Manage event consumers (replay dead letters, start and stop)",
  grantedTo: "operator"
})
export const OperatorsAdmin = defineScope({ name: "operators:admin", description: "Create, list and revoke operator tokens", grantedTo: "admin" })
export const KeyringAdmin = defineScope({
  name: "keyring:admin",
  description: "Move sealed data to the current master key (rewrap)",
  grantedTo: "admin"
})

export const coreScopes = [MachinesRead, MachinesWrite, MachinesAdmin, AuditRead, EventsRead, EventsWrite, OperatorsAdmin, KeyringAdmin] as const
