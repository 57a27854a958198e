/**
 * Registration and proof of EK possession.
 *
 * 1. `register`: the machine sends its EK (and, to enroll, its AK) public
 *    areas. A new EK becomes a `pending_approval` machine; a known EK gets its
 *    record back unchanged. With an AK, the answer carries a credential made
 *    with TPM2_MakeCredential for that EK and the AK's name.
 * 2. `activate`: the machine returns the secret its TPM recovered. Only the
 *    TPM holding the EK's private key, with that AK loaded, can recover it, so
 *    success binds the AK to the EK (`ek_verified`); that AK is the only one
 *    whose quotes are accepted afterwards.
 */
import { DateTime, Duration, Effect, Either, Option } from "effect"
import * as crypto from "node:crypto"
import type { Actor } from "../audit/AuditEntry.js"
import { AuditLog } from "../audit/AuditLog.js"
import { AppConfig } from "../config/AppConfig.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { Events } from "../events/Events.js"
import { parseEkPublic, type EkKeyError } from "../machines/ekKey.js"
import {
  CredentialChallenge,
  type MachineId,
  type MachineRecord,
  NewRegistration,
  RegisteredMachine,
  type RegisterMachine,
  Registration,
  toMachine
} from "../machines/Machine.js"
import { MachineNotFound } from "../machines/MachineErrors.js"
import { machineEvent } from "../machines/machineEvent.js"
import { MachineRepo } from "../machines/MachineRepo.js"
import { ClientRateLimits } from "../ratelimit/ClientRateLimits.js"
import { makeCredential, toTpm2ToolsCredentialFile } from "../tpm/makeCredential.js"
import { ChallengeRepo } from "./ChallengeRepo.js"
import {
  ActivationFailed,
  AkMismatch,
  ChallengeExpired,
  ChallengeOutstanding,
  ChallengeRefused,
  ChallengeTooSoon,
  EkCertificateRequired,
  HostnameTaken,
  InvalidEnrollmentInput,
  NoChallenge,
  RegistrationRateLimited
} from "./EnrollmentErrors.js"
import { loadCaBundle } from "./ekCertificate.js"
import { certificateVerdict, enrollmentKeys, type EnrollmentKeys } from "./enrollmentInput.js"
import { traced } from "../observability/traced.js"

const CHALLENGE_TTL = Duration.minutes(5)
/** A new challenge per EK at most this often: MakeCredential costs an RSA/ECDH operation. */
const CHALLENGE_MIN_INTERVAL = Duration.seconds(10)

const badField = (problem: EkKeyError) => new InvalidEnrollmentInput({ field: problem.field, problem: problem.message })

const sha256 = (data: Uint8Array) => crypto.createHash("sha256").update(data).digest()

/** Statuses in which a machine is not sent a credential challenge: it could not use what it proves. */
const NO_CHALLENGE = new Set(["locked", "revoked", "rejected"])

/** Only what the (unauthenticated) registering machine needs. */
const registeredView = (machine: MachineRecord, certVerified: boolean) =>
  new RegisteredMachine({
    id: machine.id,
    ek_fingerprint: machine.ek_fingerprint,
    status: machine.status,
    ek_verified: machine.ek_verified,
    ek_cert_verified: machine.ek_verified ? machine.ek_cert_verified : certVerified
  })

const challengeView = (credential: { readonly credentialBlob: Buffer; readonly encryptedSecret: Buffer }, expiresAt: DateTime.Utc) =>
  new CredentialChallenge({
    credential_blob: credential.credentialBlob.toString("base64"),
    encrypted_secret: credential.encryptedSecret.toString("base64"),
    credential_file: toTpm2ToolsCredentialFile(credential).toString("base64"),
    expires_at: expiresAt
  })

export class Enrollment extends Effect.Service<Enrollment>()("@itl-attestation/core/Enrollment", {
  effect: Effect.gen(function* () {
    const repo = yield* MachineRepo
    const challenges = yield* ChallengeRepo
    const audit = yield* AuditLog
    const events = yield* Events
    const config = yield* AppConfig
    const limits = yield* ClientRateLimits
    const bundle = yield* Option.match(config.tpm.caBundle, {
      onNone: () => Effect.succeed(undefined),
      onSome: (location) =>
        Effect.try({
          try: () => loadCaBundle(location),
          catch: (error) => new Error(`ITL_TPM_CA_BUNDLE: cannot read ${location}: ${(error as Error).message}`)
        })
    })

    /** Makes a credential for `keys`, stores only the hash of its secret, and returns what the machine needs. */
    const issueChallenge = (machine: MachineRecord, keys: EnrollmentKeys, certVerified: boolean) =>
      Effect.gen(function* () {
        const existing = Option.getOrUndefined(yield* challenges.selectForUpdate(machine.id))
        // An outstanding challenge for another AK stands until it is answered or expires:
        // anyone holding the EK's public key could otherwise replace it and make the
        // machine's own activation fail.
        if (existing !== undefined && !existing.expired && !existing.ak_name.equals(keys.akName)) {
          return yield* new ChallengeOutstanding({ expiresAt: existing.expires_at })
        }
        // The same AK asking again (a retry, or someone replaying the machine's public
        // keys) is sent the outstanding challenge, never a replacement for it.
        if (existing !== undefined && !existing.expired && existing.credential_blob !== null && existing.encrypted_secret !== null) {
          return challengeView({ credentialBlob: existing.credential_blob, encryptedSecret: existing.encrypted_secret }, existing.expires_at)
        }
        if (existing !== undefined && existing.age_ms < Duration.toMillis(CHALLENGE_MIN_INTERVAL)) {
          return yield* new ChallengeTooSoon({
            minIntervalSeconds: Duration.toSeconds(CHALLENGE_MIN_INTERVAL),
            retryAfterSeconds: Math.ceil((Duration.toMillis(CHALLENGE_MIN_INTERVAL) - existing.age_ms) / 1000)
          })
        }
        const secret = crypto.randomBytes(32)
        const credential = yield* Effect.try({
          try: () => makeCredential({ ekPublic: keys.ekPublic, objectName: keys.akName, secret }),
          catch: (error) => badField({ field: "ek_public", message: (error as Error).message })
        })
        const expiresAt = yield* challenges.upsert({
          machine_id: machine.id,
          ak_public: Buffer.from(keys.akPublic.publicArea),
          ak_name: keys.akName,
          ek_public_tpm: Buffer.from(keys.ekPublic.publicArea),
          ek_cert_verified: certVerified,
          secret_hash: sha256(secret),
          credential_blob: credential.credentialBlob,
          encrypted_secret: credential.encryptedSecret,
          ttlSeconds: Duration.toSeconds(CHALLENGE_TTL)
        })
        return challengeView(credential, expiresAt)
      })

    const register = (payload: RegisterMachine, clientAddress: string) =>
      Effect.gen(function* () {
        const ek = parseEkPublic(payload.ek_public)
        if (Either.isLeft(ek)) return yield* badField(ek.left)
        const keys = payload.ak_public === undefined ? undefined : enrollmentKeys(ek.right, payload.ak_public)
        if (keys !== undefined && Either.isLeft(keys)) return yield* badField(keys.left)
        const certificate = certificateVerdict(payload.ek_certificate, ek.right, bundle)
        if (Either.isLeft(certificate)) return yield* badField(certificate.left)
        if (config.tpm.requireEkCert && !certificate.right.verified) {
          return yield* new EkCertificateRequired({ reason: certificate.right.reason ?? "not verified" })
        }
        const fingerprint = ek.right.fingerprint
        const actor: Actor = { name: fingerprint, kind: "machine" }
        return yield* events.transaction(
          Effect.gen(function* () {
            // Locked: a challenge for this EK is decided by one registration at a time.
            let machine = Option.getOrUndefined(yield* repo.findByFingerprintForUpdate(fingerprint))
            let created = machine === undefined
            if (machine === undefined) {
              const retryAfter = limits.registrations.blocked(clientAddress)
              if (retryAfter !== undefined) return yield* new RegistrationRateLimited({ clientAddress, retryAfterSeconds: retryAfter })
              const sameHost = yield* repo.findByHostname(payload.hostname)
              if (sameHost.length > 0) return yield* new HostnameTaken({ hostname: payload.hostname })
              const inserted = Option.getOrUndefined(yield* repo.insert({
                ek_fingerprint: fingerprint,
                ek_public_pem: ek.right.pem,
                ek_certificate: payload.ek_certificate?.trim() ?? null,
                hostname: payload.hostname,
                hardware: payload.hardware ?? {}
              }))
              if (inserted === undefined) {
                // Lost a race with a concurrent registration of the same EK, which
                // has committed (the insert waited for it): answer as a repeat does.
                machine = Option.getOrUndefined(yield* repo.findByFingerprintForUpdate(fingerprint))
                if (machine === undefined) return yield* Effect.die(new Error(`machine of ${fingerprint} vanished during registration`))
                created = false
              } else {
                machine = inserted
                limits.registrations.hit(clientAddress)
                yield* audit.append(actor, {
                  action: "machine.registered",
                  targetType: "machine",
                  targetId: machine.id,
                  details: { hostname: machine.hostname, ek_fingerprint: fingerprint }
                })
                yield* events.append(machineEvent("machine.registered", machine))
              }
            }
            const certVerified = certificate.right.verified
            const answer = (challenge: CredentialChallenge | null) => {
              const fields = { machine: registeredView(machine!, certVerified), challenge }
              return created ? new NewRegistration({ ...fields, created: true }) : new Registration({ ...fields, created: false })
            }
            if (keys === undefined) return answer(null)
            if (machine.ek_verified && machine.ak_name !== null) {
              if (machine.ak_name.equals(keys.right.akName)) return answer(null)
              return yield* new AkMismatch()
            }
            if (NO_CHALLENGE.has(machine.status)) return yield* new ChallengeRefused({ status: machine.status })
            return answer(yield* issueChallenge(machine, keys.right, certVerified))
          })
        )
      }).pipe(sqlDefect, traced("Enrollment.register"))

    type ActivationFailure = MachineNotFound | NoChallenge | ChallengeExpired | ActivationFailed

    const activate = (machineId: MachineId, secretBase64: string) =>
      Effect.gen(function* () {
        const secret = Buffer.from(secretBase64, "base64")
        // The outcome is decided inside the transaction, but a failed attempt
        // must still commit (the challenge is single use and the attempt audited),
        // so failures are returned, and raised only after the commit.
        const outcome = yield* events.transaction(
          Effect.gen(function* () {
            const machine = Option.getOrUndefined(yield* repo.findByIdForUpdate(machineId))
            if (machine === undefined) return Either.left<ActivationFailure>(new MachineNotFound({ id: machineId }))
            const challenge = Option.getOrUndefined(yield* challenges.selectForUpdate(machineId))
            if (challenge === undefined) return Either.left<ActivationFailure>(new NoChallenge())
            yield* challenges.remove(machineId)
            const actor: Actor = { name: machine.ek_fingerprint, kind: "machine" }
            const expected = challenge.secret_hash
            const matches = !challenge.expired && crypto.timingSafeEqual(sha256(secret), expected)
            if (!matches) {
              const reason = challenge.expired ? "challenge_expired" : "activation_failed"
              yield* audit.append(actor, { action: "machine.activation_failed", targetType: "machine", targetId: machine.id, details: { reason } })
              return Either.left<ActivationFailure>(challenge.expired ? new ChallengeExpired() : new ActivationFailed())
            }
            const enrolled = yield* repo.markEnrolled({
              id: machine.id,
              ek_public_tpm: challenge.ek_public_tpm,
              ak_public: challenge.ak_public,
              ak_name: challenge.ak_name,
              ek_cert_verified: challenge.ek_cert_verified
            })
            yield* audit.append(actor, {
              action: "machine.ek_verified",
              targetType: "machine",
              targetId: machine.id,
              details: { ak_name: challenge.ak_name.toString("hex"), ek_cert_verified: challenge.ek_cert_verified }
            })
            return Either.right(toMachine(enrolled))
          })
        )
        return yield* outcome
      }).pipe(sqlDefect, traced("Enrollment.activate"))

    return { register, activate } as const
  }),
  dependencies: [MachineRepo.Default, ChallengeRepo.Default, ClientRateLimits.Default]
}) {}
