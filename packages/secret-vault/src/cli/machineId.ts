import type { MachineId } from "@itl-attestation/core/api"

/**
 * A machine id as the derived client's types want it. The client checks it is
 * a UUID when it encodes the request, and reports `invalid request: id: …`.
 */
export const asMachineId = (id: string) => id as MachineId
export const asMachineIds = (ids: ReadonlyArray<string>) => ids as ReadonlyArray<MachineId>
