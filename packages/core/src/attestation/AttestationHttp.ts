import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { NotFound } from "../http/ApiError.js"
import { MachineRepo, toMachine } from "../machines/MachineRepo.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { CurrentMachine } from "../sessions/CurrentMachine.js"
import { clientAddress } from "../ratelimit/ClientRateLimits.js"
import { Attestation } from "./Attestation.js"
import { PcrPolicies } from "./PcrPolicies.js"

export const AttestationHttp = HttpApiBuilder.group(CoreApi, "attestation", (handlers) =>
  Effect.map(Attestation, (attestation) =>
    handlers
      .handle("challenge", ({ payload }) => attestation.challenge(payload.machine_id))
      .handle("attest", ({ payload, request }) => attestation.attest(payload, clientAddress(request)))
  )
)

export const MachineSelfHttp = HttpApiBuilder.group(CoreApi, "machineSelf", (handlers) =>
  Effect.map(MachineRepo, (machines) =>
    handlers.handle("me", () =>
      Effect.gen(function* () {
        const current = yield* CurrentMachine
        const row = yield* machines.findById(current.id)
        if (row === undefined) return yield* new NotFound({ message: "machine not found" })
        return toMachine(row)
      }).pipe(sqlDefect)
    )
  )
)

export const PcrPolicyHttp = HttpApiBuilder.group(CoreApi, "pcrPolicy", (handlers) =>
  Effect.map(PcrPolicies, (policies) =>
    handlers
      .handle("getForMachine", ({ path }) => policies.forMachine(path.id))
      .handle("setForMachine", ({ path, payload }) => policies.setForMachine(path.id, payload))
      .handle("clearForMachine", ({ path }) => policies.setForMachine(path.id, null))
      .handle("getDefault", () => policies.getDefault)
      .handle("setDefault", ({ payload }) => policies.setDefault(payload))
      .handle("clearDefault", () => policies.setDefault(null))
  )
)
