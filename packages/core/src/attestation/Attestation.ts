/**
 * Attestation: a fresh quote, signed by the AK bound to the machine's EK at
 * enrollment, over a server nonce, with PCR values that match policy. Success
 * moves `approved` → `attested` and issues a machine session token.
 *
 * Order matters. First what anyone could send: the evidence must parse, the
 * machine's AK must have signed it, and the supplied PCR values must be the
 * ones whose digest it signed. A refusal there is not the machine's doing: it
 * is audited and limited per client address, but spends no nonce and never
 * counts towards the lockout (else anyone knowing a machine id could lock it).
 * Then what the AK signed: the nonce, the PCR selection and the policy. Those
 * failures are the machine's own, and too many in a row lock it.
 */
import { Duration, Effect, Either } from "effect"
import * as crypto from "node:crypto"
import type { Actor } from "../audit/AuditEntry.js"
import { AuditLog } from "../audit/AuditLog.js"
import { AppConfig } from "../config/AppConfig.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { Events } from "../events/Events.js"
import { BadRequest, Forbidden, NotFound, TooManyRequests } from "../http/ApiError.js"
import { machineEvent } from "../machines/machineEvent.js"
import { MachineRepo, type MachineRow, toMachine } from "../machines/MachineRepo.js"
import { retryAfter as retryAfterHint } from "../http/ResponseHints.js"
import { ClientRateLimits } from "../ratelimit/ClientRateLimits.js"
import { MachineSessions } from "../sessions/MachineSessions.js"
import { TpmParseError } from "../tpm/errors.js"
import { formatPcrSelection, parsePcrSelection, pcrSelectionEquals } from "../tpm/pcr.js"
import { AttestationChallenge, AttestationResult, type AttestationRequest } from "./AttestationModels.js"
import { AttestationRepo, MAX_OUTSTANDING_NONCES } from "./AttestationRepo.js"
import { DEFAULT_PCR_SELECTION, policyMismatches, policyOf, type PcrValuesJson, selectionOf, uncoveredByQuote } from "./PcrPolicy.js"
import { checkSigned, parseEvidence, type ParsedEvidence, type UnsignedFailure } from "./verifyQuote.js"

const NONCE_TTL = Duration.seconds(60)
export const LOCK_REASON = "exceeds failed attestation threshold"

/** Failures of evidence the machine's AK signed: they count towards the lockout. */
type CountedFailure = "nonce_mismatch" | "nonce_expired" | "pcr_selection_mismatch" | "pcr_mismatch" | "no_pcr_policy"

const messages: Record<CountedFailure | UnsignedFailure, string> = {
  nonce_mismatch: "the quote's nonce was not issued for this machine, or was already used",
  nonce_expired: "the nonce expired; request a new challenge",
  wrong_ak: "the quote was not signed by the AK bound to this machine's EK",
  bad_signature: "the quote's signature does not verify with the machine's AK",
  pcr_selection_mismatch: "the quote does not cover the PCRs the challenge asked for",
  pcr_digest_mismatch: "the PCR values supplied do not match the quote's PCR digest",
  pcr_mismatch: "PCR values differ from the machine's PCR policy",
  no_pcr_policy: "no PCR policy is set for this machine (ITL_PCR_POLICY=require)"
}

/** Statuses that may not be issued an attestation nonce: the machine cannot attest in them. */
const NO_CHALLENGE = new Set(["locked", "revoked", "rejected"])

export class Attestation extends Effect.Service<Attestation>()("@itl-attestation/core/Attestation", {
  effect: Effect.gen(function* () {
    const machines = yield* MachineRepo
    const repo = yield* AttestationRepo
    const sessions = yield* MachineSessions
    const audit = yield* AuditLog
    const events = yield* Events
    const config = yield* AppConfig
    const limits = yield* ClientRateLimits

    const effectivePolicy = (machine: MachineRow) =>
      Effect.gen(function* () {
        // A stored policy naming no PCR (accepted before empty policies were refused) counts as none.
        const own = machine.pcr_policy === null || machine.pcr_policy === undefined ? undefined : (repo.parseJson(machine.pcr_policy) as PcrValuesJson)
        if (own !== undefined && selectionOf(own) !== "") return { source: "machine" as const, pcrs: own }
        const fallback = yield* repo.defaultPolicy
        return fallback === undefined || selectionOf(fallback) === ""
          ? { source: "none" as const, pcrs: undefined }
          : { source: "default" as const, pcrs: fallback }
      })

    const refusedStatus = (machine: MachineRow) =>
      new Forbidden({
        error: machine.status === "pending_approval" ? "not_approved" : `machine_${machine.status}`,
        message: machine.status === "pending_approval"
          ? "this machine is waiting for an operator's approval; it cannot attest yet"
          : `this machine is ${machine.status}; it cannot attest`
      })

    const challenge = (machineId: string) =>
      Effect.gen(function* () {
        const outcome = yield* events.transaction(
          Effect.gen(function* () {
            const machine = yield* machines.findByIdForUpdate(machineId)
            if (machine === undefined) return Either.left(new NotFound({ error: "unknown_machine", message: `machine ${machineId} not found` }))
            if (NO_CHALLENGE.has(machine.status)) return Either.left(refusedStatus(machine))
            const policy = yield* effectivePolicy(machine)
            const selection = policy.pcrs === undefined ? DEFAULT_PCR_SELECTION : selectionOf(policy.pcrs)
            const nonce = crypto.randomBytes(32)
            const issued = yield* repo.insertNonce(nonce, machineId, selection, Duration.toSeconds(NONCE_TTL))
            if (issued._tag === "Full") {
              yield* retryAfterHint(issued.retryAfterSeconds)
              return Either.left(
                new TooManyRequests({
                  message: `this machine already holds ${MAX_OUTSTANDING_NONCES} unused attestation challenges; use one or wait until one expires`,
                  details: { retry_after_seconds: issued.retryAfterSeconds }
                })
              )
            }
            return Either.right(new AttestationChallenge({ nonce: nonce.toString("hex"), pcr_selection: selection, expires_at: issued.expiresAt.toISOString() }))
          })
        )
        return yield* outcome
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

    /**
     * Evidence not (shown to be) signed by the machine's AK: refused without
     * touching the machine. Audited (when the machine exists) until the client
     * address passes its limit, then answered 429 and no longer written down.
     */
    const refuseUnsigned = (
      clientAddress: string,
      machineId: string | undefined,
      refusal: BadRequest | Forbidden
    ) =>
      Effect.gen(function* () {
        const retryAfter = limits.unverifiedAttestations.hit(clientAddress)
        if (retryAfter !== undefined) {
          yield* retryAfterHint(retryAfter)
          return yield* new TooManyRequests({
            message: `too many attestations from ${clientAddress} that the machine's AK did not sign; wait before trying again`,
            details: { retry_after_seconds: retryAfter }
          })
        }
        if (machineId !== undefined) {
          const actor: Actor = { name: `client ${clientAddress}`, kind: "system" }
          yield* events.transaction(
            audit.append(actor, {
              action: "machine.attestation_refused",
              targetType: "machine",
              targetId: machineId,
              details: { reason: refusal.error, client_address: clientAddress }
            })
          )
        }
        return yield* refusal
      })

    const attest = (request: AttestationRequest, clientAddress: string) =>
      Effect.gen(function* () {
        // Parsing and the signature check are pure; a TpmParseError from either is the client's malformed input.
        const parsed = Either.try({
          try: () => parseEvidence(request.quote, request.signature, request.pcrs),
          catch: (error) => error
        })
        const machine = yield* machines.findById(request.machine_id)
        if (machine === undefined) return yield* new NotFound({ error: "unknown_machine", message: `machine ${request.machine_id} not found` })
        if (Either.isLeft(parsed)) {
          const error = parsed.left
          if (!(error instanceof TpmParseError)) return yield* Effect.die(error)
          return yield* refuseUnsigned(clientAddress, machine.id, new BadRequest({ message: error.message, details: { field: error.field } }))
        }
        const evidence = parsed.right
        if (machine.status !== "approved" && machine.status !== "attested") return yield* refusedStatus(machine)
        if (!machine.ek_verified || machine.ak_public === null || machine.ek_public_tpm === null) {
          return yield* new Forbidden({ error: "not_enrolled", message: "this machine has not proven its EK: register with ak_public and activate the credential first" })
        }
        const checked = Either.try({
          try: () => checkSigned(evidence, { ekPublicArea: machine.ek_public_tpm!, akPublicArea: machine.ak_public! }),
          catch: (error) => error
        })
        if (Either.isLeft(checked)) {
          const error = checked.left
          if (!(error instanceof TpmParseError)) return yield* Effect.die(error)
          return yield* refuseUnsigned(clientAddress, machine.id, new BadRequest({ message: error.message, details: { field: error.field } }))
        }
        const signed = checked.right
        if (Either.isLeft(signed)) {
          return yield* refuseUnsigned(clientAddress, machine.id, new Forbidden({ error: signed.left, message: messages[signed.left] }))
        }
        // Failures must commit (the count, the lock, the event) and still answer
        // with an error: the transaction returns the outcome, raised after commit.
        const outcome = yield* events.transaction(verifiedAttempt(request.machine_id, evidence))
        return yield* outcome
      }).pipe(sqlDefect, Effect.withSpan("Attestation.attest"))

    /** The quote is the machine's own: from here, every failure is counted. */
    const verifiedAttempt = (machineId: string, evidence: ParsedEvidence) =>
      Effect.gen(function* () {
        const machine = yield* machines.findByIdForUpdate(machineId)
        if (machine === undefined) {
          return Either.left(new NotFound({ error: "unknown_machine", message: `machine ${machineId} not found` }))
        }
        // The status (or the AK, by deletion and re-enrollment) may have changed since the checks above.
        if (machine.status !== "approved" && machine.status !== "attested") {
          yield* events.append(machineEvent("machine.attestation_failed", machine, { reason: `machine_${machine.status}` }))
          return Either.left(refusedStatus(machine))
        }
        if (machine.ak_public === null || machine.ek_public_tpm === null) {
          return Either.left(new Forbidden({ error: "not_enrolled", message: "this machine has not proven its EK" }))
        }
        if (Either.isLeft(checkSigned(evidence, { ekPublicArea: machine.ek_public_tpm, akPublicArea: machine.ak_public }))) {
          return Either.left(new Forbidden({ error: "wrong_ak", message: messages.wrong_ak }))
        }
        const nonce = yield* repo.consumeNonce(evidence.attest.extraData, machine.id)
        if (nonce === undefined) return Either.left(yield* fail(machine, "nonce_mismatch"))
        if (nonce.expired) return Either.left(yield* fail(machine, "nonce_expired"))
        const quoted = formatPcrSelection(evidence.attest.pcrSelect)
        if (!pcrSelectionEquals(evidence.attest.pcrSelect, parsePcrSelection(nonce.pcr_selection))) {
          return Either.left(yield* fail(machine, "pcr_selection_mismatch", { requested: nonce.pcr_selection, quoted }))
        }
        const policy = yield* effectivePolicy(machine)
        let recordPolicy: PcrValuesJson | undefined
        if (policy.pcrs !== undefined) {
          // Only values the signed quote covers are known. A policy PCR outside
          // the quote is never a pass; when the machine quoted exactly what its
          // challenge asked, the policy changed after the challenge: the
          // machine did nothing wrong, so this is not counted.
          const uncovered = uncoveredByQuote(policy.pcrs, evidence.values)
          if (uncovered.length > 0) {
            return Either.left(
              new Forbidden({
                error: "pcr_selection_mismatch",
                message: "the PCR policy changed after this challenge was issued and names PCRs the quote does not cover; request a new challenge",
                details: { pcrs: uncovered, quoted, policy: policy.source }
              })
            )
          }
          const mismatched = policyMismatches(policy.pcrs, evidence.values)
          if (mismatched.length > 0) return Either.left(yield* fail(machine, "pcr_mismatch", { pcrs: mismatched, policy: policy.source }))
        } else if (config.tpm.pcrPolicyMode === "require") {
          return Either.left(yield* fail(machine, "no_pcr_policy"))
        } else {
          // Trust on approve: this first good quote becomes the policy, and only
          // what it covered (and its signature vouches for) is recorded.
          recordPolicy = policyOf(evidence.values)
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

    return { challenge, attest, effectivePolicy } as const
  }),
  dependencies: [MachineRepo.Default, AttestationRepo.Default, MachineSessions.Default, ClientRateLimits.Default]
}) {}
