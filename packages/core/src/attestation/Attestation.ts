/**
 * Attestation: a fresh quote, signed by the AK bound to the machine's EK at
 * enrollment, over a server nonce, with PCR values that match policy. Success
 * moves `approved` → `attested` and issues a machine session token; failures
 * are counted, and too many in a row lock the machine.
 */
import { Duration, Effect, Either } from "effect"
import * as crypto from "node:crypto"
import { AuditLog } from "../audit/AuditLog.js"
import { AppConfig } from "../config/AppConfig.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { Events } from "../events/Events.js"
import { BadRequest, Forbidden, NotFound } from "../http/ApiError.js"
import { machineEvent } from "../machines/machineEvent.js"
import { MachineRepo, type MachineRow, toMachine } from "../machines/MachineRepo.js"
import { MachineSessions } from "../sessions/MachineSessions.js"
import { TpmParseError } from "../tpm/errors.js"
import { AttestationChallenge, AttestationResult, type AttestationRequest } from "./AttestationModels.js"
import { AttestationRepo } from "./AttestationRepo.js"
import { DEFAULT_PCR_SELECTION, policyMismatches, type PcrValuesJson, selectionOf } from "./PcrPolicy.js"
import { checkQuote, parseEvidence, type QuoteFailure } from "./verifyQuote.js"

const NONCE_TTL = Duration.seconds(60)
export const LOCK_REASON = "exceeds failed attestation threshold"

/** Failures that count towards the lockout: evidence that did not hold up. */
type CountedFailure =
  | "nonce_mismatch"
  | "nonce_expired"
  | "wrong_ak"
  | "bad_signature"
  | "pcr_selection_mismatch"
  | "pcr_digest_mismatch"
  | "pcr_mismatch"
  | "no_pcr_policy"

const messages: Record<CountedFailure, string> = {
  nonce_mismatch: "the quote's nonce was not issued for this machine, or was already used",
  nonce_expired: "the nonce expired; request a new challenge",
  wrong_ak: "the quote was not signed by the AK bound to this machine's EK",
  bad_signature: "the quote's signature does not verify with the machine's AK",
  pcr_selection_mismatch: "the quote does not cover the PCRs the challenge asked for",
  pcr_digest_mismatch: "the PCR values supplied do not match the quote's PCR digest",
  pcr_mismatch: "PCR values differ from the machine's PCR policy",
  no_pcr_policy: "no PCR policy is set for this machine (ITL_PCR_POLICY=require)"
}

export class Attestation extends Effect.Service<Attestation>()("@itl-attestation/core/Attestation", {
  effect: Effect.gen(function* () {
    const machines = yield* MachineRepo
    const repo = yield* AttestationRepo
    const sessions = yield* MachineSessions
    const audit = yield* AuditLog
    const events = yield* Events
    const config = yield* AppConfig

    const effectivePolicy = (machine: MachineRow) =>
      Effect.gen(function* () {
        if (machine.pcr_policy !== null && machine.pcr_policy !== undefined) {
          return { source: "machine" as const, pcrs: repo.parseJson(machine.pcr_policy) as PcrValuesJson }
        }
        const fallback = yield* repo.defaultPolicy
        return fallback === undefined ? { source: "none" as const, pcrs: undefined } : { source: "default" as const, pcrs: fallback }
      })

    const challenge = (machineId: string) =>
      Effect.gen(function* () {
        const machine = yield* machines.findById(machineId)
        if (machine === undefined) return yield* new NotFound({ error: "unknown_machine", message: `machine ${machineId} not found` })
        const policy = yield* effectivePolicy(machine)
        const selection = policy.pcrs === undefined ? DEFAULT_PCR_SELECTION : selectionOf(policy.pcrs)
        const nonce = crypto.randomBytes(32)
        const expiresAt = yield* repo.insertNonce(nonce, machineId, selection, Duration.toSeconds(NONCE_TTL))
        return new AttestationChallenge({ nonce: nonce.toString("hex"), pcr_selection: selection, expires_at: expiresAt.toISOString() })
      }).pipe(sqlDefect, Effect.withSpan("Attestation.challenge"))

    /** Counts a failure, and locks the machine when it reaches the threshold; inside the transaction. */
    const fail = (machine: MachineRow, reason: CountedFailure, details: Record<string, unknown> = {}) =>
      Effect.gen(function* () {
        const counted = yield* repo.recordFailure(machine.id)
        yield* events.append(machineEvent("machine.attestation_failed", counted, { reason, failed_attestations: counted.failed_attestations, ...details }))
        const lockable = counted.status === "approved" || counted.status === "attested"
        if (lockable && counted.failed_attestations >= config.tpm.maxFailedAttestations) {
          const locked = yield* machines.updateStatus(machine.id, { status: "locked", statusBeforeLock: counted.status, reason: LOCK_REASON }, null)
          yield* sessions.endAll(machine.id)
          const lockDetails = { previous_status: counted.status, status: "locked", reason: LOCK_REASON, failed_attestations: counted.failed_attestations }
          yield* audit.append({ name: "system", kind: "system" }, { action: "machine.locked", targetType: "machine", targetId: machine.id, details: lockDetails })
          yield* events.append(machineEvent("machine.locked", locked, lockDetails))
        }
        return new Forbidden({ error: reason, message: messages[reason], ...(Object.keys(details).length ? { details } : {}) })
      })

    const attest = (request: AttestationRequest) =>
      Effect.gen(function* () {
        const evidence = yield* Effect.try({
          try: () => parseEvidence(request.quote, request.signature, request.pcrs),
          catch: (error) =>
            error instanceof TpmParseError
              ? new BadRequest({ message: error.message, details: { field: error.field } })
              : new BadRequest({ message: String(error) })
        })
        // Failures must commit (the count, the lock, the event) and still answer
        // with an error: the transaction returns the outcome, raised after commit.
        const outcome = yield* events.transaction(
          Effect.gen(function* () {
            const machine = yield* machines.findByIdForUpdate(request.machine_id)
            if (machine === undefined) {
              return Either.left(new NotFound({ error: "unknown_machine", message: `machine ${request.machine_id} not found` }))
            }
            if (machine.status !== "approved" && machine.status !== "attested") {
              yield* events.append(machineEvent("machine.attestation_failed", machine, { reason: `machine_${machine.status}` }))
              return Either.left(
                new Forbidden({
                  error: machine.status === "pending_approval" ? "not_approved" : `machine_${machine.status}`,
                  message: machine.status === "pending_approval"
                    ? "this machine is waiting for an operator's approval; it cannot attest yet"
                    : `this machine is ${machine.status}; it cannot attest`
                })
              )
            }
            if (!machine.ek_verified || machine.ak_public === null || machine.ek_public_tpm === null) {
              return Either.left(new Forbidden({ error: "not_enrolled", message: "this machine has not proven its EK: register with ak_public and activate the credential first" }))
            }
            const nonce = yield* repo.consumeNonce(evidence.attest.extraData)
            if (nonce === undefined || nonce.machine_id !== machine.id) return Either.left(yield* fail(machine, "nonce_mismatch"))
            if (nonce.expired) return Either.left(yield* fail(machine, "nonce_expired"))
            let verdict: Either.Either<void, QuoteFailure>
            try {
              verdict = checkQuote(evidence, { ekPublicArea: machine.ek_public_tpm, akPublicArea: machine.ak_public }, nonce.pcr_selection)
            } catch (error) {
              // Values missing for a quoted PCR: the request was malformed, not the evidence false.
              if (error instanceof TpmParseError) return Either.left(new BadRequest({ message: error.message, details: { field: error.field } }))
              throw error
            }
            if (Either.isLeft(verdict)) return Either.left(yield* fail(machine, verdict.left))
            const policy = yield* effectivePolicy(machine)
            let recordPolicy: PcrValuesJson | undefined
            if (policy.pcrs !== undefined) {
              const mismatched = policyMismatches(policy.pcrs, request.pcrs)
              if (mismatched.length > 0) return Either.left(yield* fail(machine, "pcr_mismatch", { pcrs: mismatched, policy: policy.source }))
            } else if (config.tpm.pcrPolicyMode === "require") {
              return Either.left(yield* fail(machine, "no_pcr_policy"))
            } else {
              recordPolicy = request.pcrs // trust on approve: this first good quote becomes the policy
            }
            const attested = yield* repo.recordSuccess(machine.id, recordPolicy)
            const session = yield* sessions.issue(machine.id)
            const details = { previous_status: machine.status, status: attested.status, ...(recordPolicy ? { pcr_policy_recorded: selectionOf(recordPolicy) } : {}) }
            yield* audit.append({ name: machine.ek_fingerprint, kind: "machine" }, { action: "machine.attested", targetType: "machine", targetId: machine.id, details })
            yield* events.append(machineEvent("machine.attested", attested, details))
            return Either.right(
              new AttestationResult({ session_token: session.token, expires_at: session.expiresAt.toISOString(), machine: toMachine(attested) })
            )
          })
        )
        return yield* outcome
      }).pipe(sqlDefect, Effect.withSpan("Attestation.attest"))

    return { challenge, attest, effectivePolicy } as const
  }),
  dependencies: [MachineRepo.Default, AttestationRepo.Default, MachineSessions.Default]
}) {}
