import { DateTime } from "effect"
import type { ChangeEvent } from "../audit/AuditedChanges.js"
import { DomainEvent } from "../events/Event.js"
import type { MachineRecord } from "./Machine.js"

/** A machine event with the fields every consumer relies on, plus what the change adds. */
export const machineEvent = (eventType: DomainEvent["event_type"], row: MachineRecord, extra: Record<string, unknown> = {}) =>
  new DomainEvent({
    event_type: eventType,
    timestamp: DateTime.unsafeNow(),
    machine_id: row.id,
    data: { machine_id: row.id, hostname: row.hostname, ek_fingerprint: row.ek_fingerprint, status: row.status, ...extra }
  })

/** The same event, for a change recorded through AuditedChanges. */
export const machineChange = (eventType: string, row: MachineRecord, extra: Record<string, unknown> = {}): ChangeEvent => ({
  type: eventType,
  machineId: row.id,
  data: { machine_id: row.id, hostname: row.hostname, ek_fingerprint: row.ek_fingerprint, status: row.status, ...extra }
})
