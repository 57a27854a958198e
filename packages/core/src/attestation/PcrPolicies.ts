/** Operators' side of PCR policy: per machine, and the global default. */
import { Effect, Option } from "effect"
import { AuditedChanges } from "../audit/AuditedChanges.js"
import { sqlDefect } from "../db/sqlDefect.js"
import type { MachineId } from "../machines/Machine.js"
import { MachineNotFound } from "../machines/MachineErrors.js"
import { MachineRepo } from "../machines/MachineRepo.js"
import { actorOf, authorized } from "../authorization/Authorized.js"
import { MachinesRead, MachinesWrite } from "../authorization/coreScopes.js"
import { Attestation } from "./Attestation.js"
import { AttestationRepo } from "./AttestationRepo.js"
import { type PcrPolicy, PcrPolicyView, selectionOf } from "./PcrPolicy.js"
import { traced } from "../observability/traced.js"

export class PcrPolicies extends Effect.Service<PcrPolicies>()("@itl-attestation/core/PcrPolicies", {
  effect: Effect.gen(function* () {
    const machines = yield* MachineRepo
    const repo = yield* AttestationRepo
    const attestation = yield* Attestation
    const changes = yield* AuditedChanges

    const machineOrFail = (id: MachineId) =>
      Effect.flatMap(machines.findById(id), Option.match({ onNone: () => Effect.fail(new MachineNotFound({ id })), onSome: Effect.succeed }))

    /** The policy a machine's next quote is checked against, and where it comes from. */
    const viewOf = (id: MachineId) =>
      Effect.gen(function* () {
        const policy = yield* attestation.effectivePolicy(yield* machineOrFail(id))
        return new PcrPolicyView({
          source: policy.source,
          pcr_selection: policy.pcrs === undefined ? null : selectionOf(policy.pcrs),
          pcrs: policy.pcrs ?? null
        })
      })

    const forMachine = (id: MachineId) =>
      Effect.zipRight(authorized(MachinesRead), viewOf(id)).pipe(sqlDefect, traced("PcrPolicies.forMachine"))

    const setForMachine = (id: MachineId, policy: PcrPolicy | null) =>
      Effect.gen(function* () {
        const operator = yield* authorized(MachinesWrite)
        yield* changes.run(
          actorOf(operator),
          Effect.flatMap(repo.setMachinePolicy(id, policy === null ? null : policy.pcrs), (row) =>
            Option.isNone(row) ? Effect.fail(new MachineNotFound({ id })) : Effect.void
          ),
          () => ({
            action: policy === null ? "machine.pcr_policy_cleared" : "machine.pcr_policy_set",
            targetType: "machine",
            targetId: id,
            details: policy === null ? {} : { pcr_selection: selectionOf(policy.pcrs) }
          })
        )
        return yield* viewOf(id)
      }).pipe(sqlDefect, traced("PcrPolicies.setForMachine"))

    const defaultView = Effect.map(repo.defaultPolicy, (found) => {
      const policy = Option.getOrUndefined(found)
      return new PcrPolicyView({
        source: policy === undefined ? "none" : "default",
        pcr_selection: policy === undefined ? null : selectionOf(policy),
        pcrs: policy ?? null
      })
    })

    const getDefault = Effect.zipRight(authorized(MachinesRead), defaultView).pipe(sqlDefect, traced("PcrPolicies.getDefault"))

    const setDefault = (policy: PcrPolicy | null) =>
      Effect.gen(function* () {
        const operator = yield* authorized(MachinesWrite)
        yield* changes.run(
          actorOf(operator),
          policy === null ? repo.deleteDefaultPolicy : repo.setDefaultPolicy(policy.pcrs, operator.name),
          () => ({
            action: policy === null ? "pcr_policy.default_cleared" : "pcr_policy.default_set",
            targetType: "pcr_policy",
            targetId: "default",
            details: policy === null ? {} : { pcr_selection: selectionOf(policy.pcrs) }
          })
        )
        return yield* defaultView
      }).pipe(sqlDefect, traced("PcrPolicies.setDefault"))

    return { forMachine, setForMachine, getDefault, setDefault } as const
  }),
  dependencies: [MachineRepo.Default, AttestationRepo.Default, Attestation.Default]
}) {}
