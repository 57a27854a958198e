import { DateTime, Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { Enrollment } from "../enrollment/Enrollment.js"
import { BadRequest, Conflict, Forbidden, NotFound, TooManyRequests } from "../http/ApiError.js"
import { groupUsing } from "../http/narrowContext.js"
import { pageOf } from "../http/Pagination.js"
import { retryAfter } from "../http/ResponseHints.js"
import { clientAddress } from "../ratelimit/ClientRateLimits.js"
import type { InvalidTransition, MachineNotFound } from "./MachineErrors.js"
import { Machines } from "./Machines.js"

/** The registry's domain errors as the API answers them (status, error code, details). */
export const machineNotFound = (e: MachineNotFound) => Effect.fail(new NotFound({ message: e.message }))

const lifecycleErrors = {
  MachineNotFound: machineNotFound,
  InvalidTransition: (e: InvalidTransition) =>
    Effect.fail(new Conflict({ error: "invalid_transition", message: e.message, details: { current_status: e.current } }))
}

const tooManyRequests = (message: string, seconds: number) =>
  Effect.zipRight(retryAfter(seconds), Effect.fail(new TooManyRequests({ message, details: { retry_after_seconds: seconds } })))

export const MachineRegistrationHttp = groupUsing(Enrollment)(CoreApi, "machineRegistration", (handlers) =>
  Effect.map(Enrollment, (enrollment) =>
    handlers
      .handle("register", ({ payload, request }) =>
        enrollment.register(payload, clientAddress(request)).pipe(
          Effect.catchTags({
            InvalidEnrollmentInput: (e) => Effect.fail(new BadRequest({ message: e.message, details: { field: e.field } })),
            EkCertificateRequired: (e) => Effect.fail(new Forbidden({ error: "ek_certificate_required", message: e.message })),
            RegistrationRateLimited: (e) => tooManyRequests(e.message, e.retryAfterSeconds),
            HostnameTaken: (e) => Effect.fail(new Conflict({ error: "hostname_taken", message: e.message, details: { field: "hostname" } })),
            AkMismatch: (e) => Effect.fail(new Conflict({ error: "ak_mismatch", message: e.message, details: { field: "ak_public" } })),
            ChallengeRefused: (e) => Effect.fail(new Forbidden({ error: `machine_${e.status}`, message: e.message })),
            ChallengeOutstanding: (e) =>
              Effect.fail(
                new Conflict({
                  error: "challenge_outstanding",
                  message: e.message,
                  details: { field: "ak_public", expires_at: DateTime.formatIso(e.expiresAt) }
                })
              ),
            ChallengeTooSoon: (e) => tooManyRequests(e.message, e.retryAfterSeconds)
          })
        )
      )
      .handle("activate", ({ path, payload }) =>
        enrollment.activate(path.id, payload.secret).pipe(
          Effect.catchTags({
            MachineNotFound: machineNotFound,
            NoChallenge: (e) => Effect.fail(new NotFound({ error: "no_challenge", message: e.message })),
            ChallengeExpired: (e) => Effect.fail(new Forbidden({ error: "challenge_expired", message: e.message })),
            ActivationFailed: (e) => Effect.fail(new Forbidden({ error: "activation_failed", message: e.message }))
          })
        )
      )
  )
)

export const MachineHttp = groupUsing(Machines)(CoreApi, "machines", (handlers) =>
  Effect.map(Machines, (machines) =>
    handlers
      .handle("list", ({ urlParams }) => machines.list(pageOf(urlParams)))
      .handle("get", ({ path }) => machines.get(path.id).pipe(Effect.catchTags({ MachineNotFound: machineNotFound })))
      .handle("approve", ({ path, payload }) => machines.approve(path.id, payload.reason).pipe(Effect.catchTags(lifecycleErrors)))
      .handle("reject", ({ path, payload }) => machines.reject(path.id, payload.reason).pipe(Effect.catchTags(lifecycleErrors)))
      .handle("lock", ({ path, payload }) => machines.lock(path.id, payload.reason).pipe(Effect.catchTags(lifecycleErrors)))
      .handle("unlock", ({ path, payload }) => machines.unlock(path.id, payload.reason).pipe(Effect.catchTags(lifecycleErrors)))
      .handle("revoke", ({ path, payload }) => machines.revoke(path.id, payload.reason).pipe(Effect.catchTags(lifecycleErrors)))
      .handle("delete", ({ path }) => machines.remove(path.id).pipe(Effect.catchTags({ MachineNotFound: machineNotFound })))
  )
)
