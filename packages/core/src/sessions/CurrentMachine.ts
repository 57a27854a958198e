import { Context } from "effect"
import type { MachineId, MachineStatus } from "../machines/Machine.js"

/** The machine that authenticated the current request (see MachineAuthentication). */
export interface MachineIdentity {
  readonly id: MachineId
  readonly ek_fingerprint: string
  readonly hostname: string
  readonly status: MachineStatus
  /** `session`: a TPM-backed session token; `ek-fingerprint-header`: the insecure compatibility mode. */
  readonly via: "session" | "ek-fingerprint-header"
}

export class CurrentMachine extends Context.Tag("@itl-attestation/core/CurrentMachine")<CurrentMachine, MachineIdentity>() {}
