/**
 * Why registration or credential activation is refused, in the enrollment's
 * own terms. MachineHttp.ts maps each to its status and error code; the
 * messages are the ones clients see.
 */
import { Schema } from "effect"
import { MachineStatus } from "../machines/Machine.js"

/** A field of the registration is malformed (the EK, the AK, the certificate). */
export class InvalidEnrollmentInput extends Schema.TaggedError<InvalidEnrollmentInput>()("InvalidEnrollmentInput", {
  field: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return `${this.field}: ${this.problem}`
  }
}

/** ITL_REQUIRE_EK_CERT is on and the EK certificate does not chain to ITL_TPM_CA_BUNDLE. */
export class EkCertificateRequired extends Schema.TaggedError<EkCertificateRequired>()("EkCertificateRequired", {
  reason: Schema.String
}) {
  override get message() {
    return `this server requires an EK certificate that chains to ITL_TPM_CA_BUNDLE: ${this.reason}`
  }
}

/** The client address registered too many new machines in the window. */
export class RegistrationRateLimited extends Schema.TaggedError<RegistrationRateLimited>()("RegistrationRateLimited", {
  clientAddress: Schema.String,
  retryAfterSeconds: Schema.Number
}) {
  override get message() {
    return `too many new machines registered from ${this.clientAddress}; try again later`
  }
}

export class HostnameTaken extends Schema.TaggedError<HostnameTaken>()("HostnameTaken", {
  hostname: Schema.String
}) {
  override get message() {
    return `hostname ${this.hostname} is already registered to another EK`
  }
}

/** The EK is enrolled with another AK: only deleting the machine lets it enroll a new one. */
export class AkMismatch extends Schema.TaggedError<AkMismatch>()("AkMismatch", {}) {
  override get message() {
    return "this EK is enrolled with another AK; an operator must delete the machine before it can enroll a new AK"
  }
}

/** A locked, revoked or rejected machine is not sent a credential challenge. */
export class ChallengeRefused extends Schema.TaggedError<ChallengeRefused>()("ChallengeRefused", {
  status: MachineStatus
}) {
  override get message() {
    return `this machine is ${this.status}; it is not sent a credential challenge`
  }
}

/** An unexpired challenge for another AK of this EK stands until it is answered or expires. */
export class ChallengeOutstanding extends Schema.TaggedError<ChallengeOutstanding>()("ChallengeOutstanding", {
  expiresAt: Schema.DateTimeUtcFromSelf
}) {
  override get message() {
    return "a credential challenge for another AK of this EK is outstanding; answer it, or register again after it expires"
  }
}

/** A new challenge for this EK was made less than `minIntervalSeconds` ago. */
export class ChallengeTooSoon extends Schema.TaggedError<ChallengeTooSoon>()("ChallengeTooSoon", {
  minIntervalSeconds: Schema.Number,
  retryAfterSeconds: Schema.Number
}) {
  override get message() {
    return `a credential challenge for this EK was issued less than ${this.minIntervalSeconds} s ago`
  }
}

export class NoChallenge extends Schema.TaggedError<NoChallenge>()("NoChallenge", {}) {
  override get message() {
    return "no credential challenge is outstanding for this machine; register with ak_public first"
  }
}

export class ChallengeExpired extends Schema.TaggedError<ChallengeExpired>()("ChallengeExpired", {}) {
  override get message() {
    return "the credential challenge expired; register again for a new one"
  }
}

/** The secret does not match: this TPM does not hold the EK, or the AK differs. */
export class ActivationFailed extends Schema.TaggedError<ActivationFailed>()("ActivationFailed", {}) {
  override get message() {
    return "the secret does not match the credential: this TPM does not hold the EK, or the AK differs"
  }
}
