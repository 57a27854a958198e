/**
 * An annotation for machine-session endpoints that address one machine's
 * resources: which path parameter names the machine, and what another
 * machine's session gets (404 when even the existence of the resource must
 * not leak, 403 when it may). It is published as `x-machine-owner` in
 * `/openapi.json`, where the authorization matrix test reads it.
 */
import { Context } from "effect"

export interface MachineOwnerShape {
  readonly parameter: string
  readonly otherMachine: 403 | 404
}

export class MachineOwner extends Context.Tag("@itl-attestation/core/MachineOwner")<MachineOwner, MachineOwnerShape>() {}
