/**
 * Why an attestation challenge or an attestation is refused, in the
 * attestation's own terms. AttestationHttp.ts maps each to its status and
 * error code; the messages are the ones clients see.
 */
import { Schema } from "effect"
import { MachineStatus } from "../machines/Machine.js"
import type { UnsignedFailure } from "./verifyQuote.js"

/** At most this many unexpired nonces per machine; a further challenge is refused until one is used or expires. */
export const MAX_OUTSTANDING_NONCES = 8

/** Failures of evidence the machine's AK signed: they count towards the lockout. */
export const CountedFailure = Schema.Literal("nonce_mismatch", "nonce_expired", "pcr_selection_mismatch", "pcr_mismatch", "no_pcr_policy")
export type CountedFailure = typeof CountedFailure.Type

const UnsignedFailureSchema = Schema.Literal("wrong_ak", "bad_signature", "pcr_digest_mismatch")

export const failureMessages: Record<CountedFailure | UnsignedFailure, string> = {
  nonce_mismatch: "the quote's nonce was not issued for this machine, or was already used",
  nonce_expired: "the nonce expired; request a new challenge",
  wrong_ak: "the quote was not signed by the AK bound to this machine's EK",
  bad_signature: "the quote's signature does not verify with the machine's AK",
  pcr_selection_mismatch: "the quote does not cover the PCRs the challenge asked for",
  pcr_digest_mismatch: "the PCR values supplied do not match the quote's PCR digest",
  pcr_mismatch: "PCR values differ from the machine's PCR policy",
  no_pcr_policy: "no PCR policy is set for this machine (ITL_PCR_POLICY=require)"
}

/** The machine's status does not allow it to attest (or to be given a nonce). */
export class MachineCannotAttest extends Schema.TaggedError<MachineCannotAttest>()("MachineCannotAttest", {
  status: MachineStatus
}) {
  override get message() {
    return this.status === "pending_approval"
      ? "this machine is waiting for an operator's approval; it cannot attest yet"
      : `this machine is ${this.status}; it cannot attest`
  }
}

export class TooManyChallenges extends Schema.TaggedError<TooManyChallenges>()("TooManyChallenges", {
  retryAfterSeconds: Schema.Number
}) {
  override get message() {
    return `this machine already holds ${MAX_OUTSTANDING_NONCES} unused attestation challenges; use one or wait until one expires`
  }
}

/** The evidence does not parse (a TPM structure, the PCR values). */
export class MalformedEvidence extends Schema.TaggedError<MalformedEvidence>()("MalformedEvidence", {
  field: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return this.problem
  }
}

/** The machine's AK did not sign this evidence (or the PCR values are not the ones it signed). Not counted. */
export class EvidenceRejected extends Schema.TaggedError<EvidenceRejected>()("EvidenceRejected", {
  reason: UnsignedFailureSchema
}) {
  override get message() {
    return failureMessages[this.reason]
  }
}

/** The client address sent too much evidence that the machine's AK did not sign. */
export class UnverifiedAttestationsLimited extends Schema.TaggedError<UnverifiedAttestationsLimited>()("UnverifiedAttestationsLimited", {
  clientAddress: Schema.String,
  retryAfterSeconds: Schema.Number
}) {
  override get message() {
    return `too many attestations from ${this.clientAddress} that the machine's AK did not sign; wait before trying again`
  }
}

/** No AK is bound to the machine's EK yet (or it went between the checks and the commit). */
export class NotEnrolled extends Schema.TaggedError<NotEnrolled>()("NotEnrolled", {}) {
  override get message() {
    return "this machine has not proven its EK: register with ak_public and activate the credential first"
  }
}

/** Evidence the machine's AK signed that fails a check: counted towards the lockout. */
export class AttestationFailed extends Schema.TaggedError<AttestationFailed>()("AttestationFailed", {
  reason: CountedFailure,
  details: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {
  override get message() {
    return failureMessages[this.reason]
  }
}

/**
 * The PCR policy changed after the challenge and names PCRs the quote does
 * not cover: the machine did nothing wrong, so this is not counted.
 */
export class PolicyChangedSinceChallenge extends Schema.TaggedError<PolicyChangedSinceChallenge>()("PolicyChangedSinceChallenge", {
  pcrs: Schema.Array(Schema.String),
  quoted: Schema.String,
  policy: Schema.Literal("machine", "default")
}) {
  override get message() {
    return "the PCR policy changed after this challenge was issued and names PCRs the quote does not cover; request a new challenge"
  }
}
