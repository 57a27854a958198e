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
import { Duration, Effect, Either, Option } from "effect"
import * as crypto from "node:crypto"
import type { Actor } from "../audit/AuditEntry.js"
import { AuditLog } from "../audit/AuditLog.js"
import { AppConfig } from "../config/AppConfig.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { Events } from "../events/Events.js"
import { type MachineId, type MachineRecord, toMachine } from "../machines/Machine.js"
import { MachineNotFound } from "../machines/MachineErrors.js"
import { machineEvent } from "../machines/machineEvent.js"
import { MachineRepo } from "../machines/MachineRepo.js"
import { ClientRateLimits } from "../ratelimit/ClientRateLimits.js"
import { MachineSessions } from "../sessions/MachineSessions.js"
import { TpmParseError } from "../tpm/errors.js"
import { formatPcrSelection, parsePcrSelection, pcrSelectionEquals } from "../tpm/pcr.js"
import {
  AttestationFailed,
  type CountedFailure,
  EvidenceRejected,
  MachineCannotAttest,
  MalformedEvidence,
  NotEnrolled,
  PolicyChangedSinceChallenge,
  TooManyChallenges,
  UnverifiedAttestationsLimited
} from "./AttestationErrors.js"
import { AttestationChallenge, AttestationResult, type AttestationRequest } from "./AttestationModels.js"
import { AttestationRepo } from "./AttestationRepo.js"
import { DEFAULT_PCR_SELECTION, policyMismatches, policyOf, type PcrValuesJson, selectionOf, uncoveredByQuote } from "./PcrPolicy.js"
import { checkSigned, parseEvidence, type ParsedEvidence } from "./verifyQuote.js"
import { traced } from "../observability/traced.js"

const NONCE_TTL = Duration.seconds(60)
export const LOCK_REASON = "exceeds failed attestation threshold"

/** Statuses that may not be issued an attestation nonce: the machine cannot attest in them. */
const NO_CHALLENGE = new Set(["locked", "revoked", "rejected"])

/** Where the policy a quote is checked against comes from. */
export type EffectivePolicy =
  | { readonly source: "machine" | "default"; readonly pcrs: PcrValuesJson }
  | { readonly source: "none"; readonly pcrs: undefined }

/**
 * The machine's own policy, else the global default. A policy naming no PCR
 * (accepted before empty policies were refused) counts as none.
 */
export const choosePolicy = (own: PcrValuesJson | null, fallback: Option.Option<PcrValuesJson>): EffectivePolicy => {
  if (own !== null && selectionOf(own) !== "") return { source: "machine", pcrs: own }
  return Option.isSome(fallback) && selectionOf(fallback.value) !== ""
    ? { source: "default", pcrs: fallback.value }
    : { source: "none", pcrs: undefined }
}

/** A TpmParseError from parsing or the signature check is the client's malformed input; anything else is a bug. */
const malformed = (error: unknown) =>
  error instanceof TpmParseError ? Effect.succeed(new MalformedEvidence({ field: error.field, problem: error.message })) : Effect.die(error)

export class Attestation extends Effect.Service<Attestation>()("@itl-attestation/core/Attestation", {
  effect: Effect.gen(function* () {
    const machines = yield* MachineRepo
    const repo = yield* AttestationRepo
    const sessions = yield* MachineSessions
    const audit = yield* AuditLog
    const events = yield* Events
    const config = yield* AppConfig
    const limits = yield* ClientRateLimits

    const effectivePolicy = (machine: MachineRecord) =>
      machine.pcr_policy !== null && selectionOf(machine.pcr_policy) !== ""
        ? Effect.succeed(choosePolicy(machine.pcr_policy, Option.none()))
        : Effect.map(repo.defaultPolicy, (fallback) => choosePolicy(machine.pcr_policy, fallback))

    const challenge = (machineId: MachineId) =>
      Effect.gen(function* () {
        const outcome = yield* events.transaction(
          Effect.gen(function* () {
            const found = yield* machines.findByIdForUpdate(machineId)
            if (Option.isNone(found)) return Either.left(new MachineNotFound({ id: machineId }))
            const machine = found.value
            if (NO_CHALLENGE.has(machine.status)) return Either.left(new MachineCannotAttest({ status: machine.status }))
            const policy = yield* effectivePolicy(machine)
            const selection = policy.pcrs === undefined ? DEFAULT_PCR_SELECTION : selectionOf(policy.pcrs)
            const nonce = crypto.randomBytes(32)
            const issued = yield* repo.insertNonce(nonce, machineId, selection, Duration.toSeconds(NONCE_TTL))
            if (issued._tag === "Full") return Either.left(new TooManyChallenges({ retryAfterSeconds: issued.retryAfterSeconds }))
            return Either.right(new AttestationChallenge({ nonce: nonce.toString("hex"), pcr_selection: selection, expires_at: issued.expiresAt }))
          })
        )
        return yield* outcome
      }).pipe(sqlDefect, traced("Attestation.challenge"))

    /** Counts a failure, and locks the machine when it reaches the threshold; inside the transaction. */
    const fail = (machine: MachineRecord, reason: CountedFailure, details: Record<string, unknown> = {}) =>
      Effect.gen(function* () {
        const counted = yield* repo.recordFailure(machine.id)
        yield* events.append(machineEvent("machine.attestation_failed", counted, { reason, failed_attestations: counted.failed_attestations, ...details }))
        const lockable = counted.status === "approved" || counted.status === "attested"
        if (lockable && counted.failed_attestations >= config.tpm.maxFailedAttestations) {
          const locked = yield* machines.updateStatus({
            id: machine.id,
            status: "locked",
            statusBeforeLock: counted.status,
            reason: LOCK_REASON,
            resetFailures: false,
            approvedBy: null
          })
          yield* sessions.endAll(machine.id)
          const lockDetails = { previous_status: counted.status, status: "locked", reason: LOCK_REASON, failed_attestations: counted.failed_attestations }
          yield* audit.append({ name: "system", kind: "system" }, { action: "machine.locked", targetType: "machine", targetId: machine.id, details: lockDetails })
          yield* events.append(machineEvent("machine.locked", locked, lockDetails))
        }
        return new AttestationFailed({ reason, details })
      })

    /**
     * Evidence not (shown to be) signed by the machine's AK: refused without
     * touching the machine. Audited until the client address passes its
     * limit, then refused as too many and no longer written down.
     */
    const refuseUnsigned = (clientAddress: string, machineId: MachineId, refusal: MalformedEvidence | EvidenceRejected) =>
      Effect.gen(function* () {
        const retryAfter = limits.unverifiedAttestations.hit(clientAddress)
        if (retryAfter !== undefined) return yield* new UnverifiedAttestationsLimited({ clientAddress, retryAfterSeconds: retryAfter })
        const actor: Actor = { name: `client ${clientAddress}`, kind: "system" }
        yield* events.transaction(
          audit.append(actor, {
            action: "machine.attestation_refused",
            targetType: "machine",
            targetId: machineId,
            details: { reason: refusal._tag === "MalformedEvidence" ? "bad_request" : refusal.reason, client_address: clientAddress }
          })
        )
        return yield* refusal
      })

    const attest = (request: AttestationRequest, clientAddress: string) =>
      Effect.gen(function* () {
        // Parsing and the signature check are pure; a TpmParseError from either is the client's malformed input.
        const parsed = Either.try({
          try: () => parseEvidence(request.quote, request.signature, request.pcrs),
          catch: (error) => error
        })
        const found = yield* machines.findById(request.machine_id)
        if (Option.isNone(found)) return yield* new MachineNotFound({ id: request.machine_id })
        const machine = found.value
        if (Either.isLeft(parsed)) return yield* refuseUnsigned(clientAddress, machine.id, yield* malformed(parsed.left))
        const evidence = parsed.right
        if (machine.status !== "approved" && machine.status !== "attested") return yield* new MachineCannotAttest({ status: machine.status })
        if (!machine.ek_verified || machine.ak_public === null || machine.ek_public_tpm === null) return yield* new NotEnrolled()
        const keys = { ekPublicArea: machine.ek_public_tpm, akPublicArea: machine.ak_public }
        const checked = Either.try({ try: () => checkSigned(evidence, keys), catch: (error) => error })
        if (Either.isLeft(checked)) return yield* refuseUnsigned(clientAddress, machine.id, yield* malformed(checked.left))
        const signed = checked.right
        if (Either.isLeft(signed)) return yield* refuseUnsigned(clientAddress, machine.id, new EvidenceRejected({ reason: signed.left }))
        // Failures must commit (the count, the lock, the event) and still answer
        // with an error: the transaction returns the outcome, raised after commit.
        const outcome = yield* events.transaction(verifiedAttempt(request.machine_id, evidence))
        return yield* outcome
      }).pipe(sqlDefect, traced("Attestation.attest"))

    /** The quote is the machine's own: from here, every failure is counted. */
    const verifiedAttempt = (machineId: MachineId, evidence: ParsedEvidence) =>
      Effect.gen(function* () {
        const found = yield* machines.findByIdForUpdate(machineId)
        if (Option.isNone(found)) return Either.left(new MachineNotFound({ id: machineId }))
        const machine = found.value
        // The status (or the AK, by deletion and re-enrollment) may have changed since the checks above.
        if (machine.status !== "approved" && machine.status !== "attested") {
          yield* events.append(machineEvent("machine.attestation_failed", machine, { reason: `machine_${machine.status}` }))
          return Either.left(new MachineCannotAttest({ status: machine.status }))
        }
        if (machine.ak_public === null || machine.ek_public_tpm === null) return Either.left(new NotEnrolled())
        if (Either.isLeft(checkSigned(evidence, { ekPublicArea: machine.ek_public_tpm, akPublicArea: machine.ak_public }))) {
          return Either.left(new EvidenceRejected({ reason: "wrong_ak" }))
        }
        const spent = yield* repo.consumeNonce(evidence.attest.extraData, machine.id)
        if (Option.isNone(spent)) return Either.left(yield* fail(machine, "nonce_mismatch"))
        const nonce = spent.value
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
          if (uncovered.length > 0) return Either.left(new PolicyChangedSinceChallenge({ pcrs: uncovered, quoted, policy: policy.source }))
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
        return Either.right(new AttestationResult({ session_token: session.token, expires_at: session.expiresAt, machine: toMachine(attested) }))
      })

    return { challenge, attest, effectivePolicy } as const
  }),
  dependencies: [MachineRepo.Default, AttestationRepo.Default, MachineSessions.Default, ClientRateLimits.Default]
}) {}
