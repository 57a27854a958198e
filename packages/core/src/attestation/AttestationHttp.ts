import { Effect, Option } from "effect"
import { CoreApi } from "../CoreApi.js"
import { groupUsing } from "../http/narrowContext.js"
import { BadRequest, Forbidden, NotFound, TooManyRequests } from "../http/ApiError.js"
import { retryAfter } from "../http/ResponseHints.js"
import { toMachine } from "../machines/Machine.js"
import type { MachineNotFound } from "../machines/MachineErrors.js"
import { machineNotFound } from "../machines/MachineHttp.js"
import { MachineRepo } from "../machines/MachineRepo.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { CurrentMachine } from "../sessions/CurrentMachine.js"
import { clientAddress } from "../ratelimit/ClientRateLimits.js"
import { Attestation } from "./Attestation.js"
import type { MachineCannotAttest } from "./AttestationErrors.js"
import { PcrPolicies } from "./PcrPolicies.js"

/** Machines name themselves by id here: an unknown one is `unknown_machine`. */
const unknownMachine = (e: MachineNotFound) => Effect.fail(new NotFound({ error: "unknown_machine", message: e.message }))

const cannotAttest = (e: MachineCannotAttest) =>
  Effect.fail(new Forbidden({ error: e.status === "pending_approval" ? "not_approved" : `machine_${e.status}`, message: e.message }))

const tooManyRequests = (message: string, seconds: number) =>
  Effect.zipRight(retryAfter(seconds), Effect.fail(new TooManyRequests({ message, details: { retry_after_seconds: seconds } })))

export const AttestationHttp = groupUsing(Attestation)(CoreApi, "attestation", (handlers) =>
  Effect.map(Attestation, (attestation) =>
    handlers
      .handle("challenge", ({ payload }) =>
        attestation.challenge(payload.machine_id).pipe(
          Effect.catchTags({
            MachineNotFound: unknownMachine,
            MachineCannotAttest: cannotAttest,
            TooManyChallenges: (e) => tooManyRequests(e.message, e.retryAfterSeconds)
          })
        )
      )
      .handle("attest", ({ payload, request }) =>
        attestation.attest(payload, clientAddress(request)).pipe(
          Effect.catchTags({
            MachineNotFound: unknownMachine,
            MachineCannotAttest: cannotAttest,
            MalformedEvidence: (e) => Effect.fail(new BadRequest({ message: e.message, details: { field: e.field } })),
            EvidenceRejected: (e) => Effect.fail(new Forbidden({ error: e.reason, message: e.message })),
            UnverifiedAttestationsLimited: (e) => tooManyRequests(e.message, e.retryAfterSeconds),
            NotEnrolled: (e) => Effect.fail(new Forbidden({ error: "not_enrolled", message: e.message })),
            AttestationFailed: (e) =>
              Effect.fail(
                new Forbidden({ error: e.reason, message: e.message, ...(Object.keys(e.details).length > 0 ? { details: e.details } : {}) })
              ),
            PolicyChangedSinceChallenge: (e) =>
              Effect.fail(
                new Forbidden({ error: "pcr_selection_mismatch", message: e.message, details: { pcrs: e.pcrs, quoted: e.quoted, policy: e.policy } })
              )
          })
        )
      )
  )
)

export const MachineSelfHttp = groupUsing(MachineRepo)(CoreApi, "machineSelf", (handlers) =>
  Effect.map(MachineRepo, (machines) =>
    handlers.handle("me", () =>
      Effect.gen(function* () {
        const current = yield* CurrentMachine
        const found = yield* machines.findById(current.id)
        if (Option.isNone(found)) return yield* new NotFound({ message: "machine not found" })
        return toMachine(found.value)
      }).pipe(sqlDefect)
    )
  )
)

export const PcrPolicyHttp = groupUsing(PcrPolicies)(CoreApi, "pcrPolicy", (handlers) =>
  Effect.map(PcrPolicies, (policies) =>
    handlers
      .handle("getForMachine", ({ path }) => policies.forMachine(path.id).pipe(Effect.catchTags({ MachineNotFound: machineNotFound })))
      .handle("setForMachine", ({ path, payload }) => policies.setForMachine(path.id, payload).pipe(Effect.catchTags({ MachineNotFound: machineNotFound })))
      .handle("clearForMachine", ({ path }) => policies.setForMachine(path.id, null).pipe(Effect.catchTags({ MachineNotFound: machineNotFound })))
      .handle("getDefault", () => policies.getDefault)
      .handle("setDefault", ({ payload }) => policies.setDefault(payload))
      .handle("clearDefault", () => policies.setDefault(null))
  )
)
