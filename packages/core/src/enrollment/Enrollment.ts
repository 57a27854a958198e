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
import { Duration, Effect, Either, Option } from "effect"
import * as crypto from "node:crypto"
import type { Actor } from "../audit/AuditEntry.js"
import { AuditLog } from "../audit/AuditLog.js"
import { AppConfig } from "../config/AppConfig.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { Events } from "../events/Events.js"
import { BadRequest, Conflict, Forbidden, NotFound, TooManyRequests } from "../http/ApiError.js"
import { parseEkPublic, type EkKeyError } from "../machines/ekKey.js"
import { CredentialChallenge, NewRegistration, RegisteredMachine, type RegisterMachine, Registration } from "../machines/Machine.js"
import { machineEvent } from "../machines/machineEvent.js"
import { MachineRepo, type MachineRow, toMachine } from "../machines/MachineRepo.js"
import { retryAfter as retryAfterHint } from "../http/ResponseHints.js"
import { ClientRateLimits } from "../ratelimit/ClientRateLimits.js"
import { makeCredential, toTpm2ToolsCredentialFile } from "../tpm/makeCredential.js"
import { ChallengeRepo } from "./ChallengeRepo.js"
import { loadCaBundle } from "./ekCertificate.js"
import { certificateVerdict, enrollmentKeys, type EnrollmentKeys } from "./enrollmentInput.js"

const CHALLENGE_TTL = Duration.minutes(5)
/** A new challenge per EK at most this often: MakeCredential costs an RSA/ECDH operation. */
const CHALLENGE_MIN_INTERVAL = Duration.seconds(10)

const badField = (problem: EkKeyError) =>
  new BadRequest({ message: `${problem.field}: ${problem.message}`, details: { field: problem.field } })

const sha256 = (data: Uint8Array) => crypto.createHash("sha256").update(data).digest()

/** Statuses in which a machine is not sent a credential challenge: it could not use what it proves. */
const NO_CHALLENGE = new Set(["locked", "revoked", "rejected"])

/** Only what the (unauthenticated) registering machine needs. */
const registeredView = (machine: MachineRow, certVerified: boolean) =>
  new RegisteredMachine({
    id: machine.id,
    ek_fingerprint: machine.ek_fingerprint,
    status: machine.status,
    ek_verified: machine.ek_verified,
    ek_cert_verified: machine.ek_verified ? machine.ek_cert_verified : certVerified
  })

const challengeView = (credential: { readonly credentialBlob: Buffer; readonly encryptedSecret: Buffer }, expiresAt: Date) =>
  new CredentialChallenge({
    credential_blob: credential.credentialBlob.toString("base64"),
    encrypted_secret: credential.encryptedSecret.toString("base64"),
    credential_file: toTpm2ToolsCredentialFile(credential).toString("base64"),
    expires_at: expiresAt.toISOString()
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
    const issueChallenge = (machine: MachineRow, keys: EnrollmentKeys, certVerified: boolean) =>
      Effect.gen(function* () {
        const existing = yield* challenges.selectForUpdate(machine.id)
        // An outstanding challenge for another AK stands until it is answered or expires:
        // anyone holding the EK's public key could otherwise replace it and make the
        // machine's own activation fail.
        if (existing !== undefined && !existing.expired && !existing.ak_name.equals(keys.akName)) {
          return yield* new Conflict({
            error: "challenge_outstanding",
            message: "a credential challenge for another AK of this EK is outstanding; answer it, or register again after it expires",
            details: { field: "ak_public", expires_at: existing.expires_at.toISOString() }
          })
        }
        // The same AK asking again (a retry, or someone replaying the machine's public
        // keys) is sent the outstanding challenge, never a replacement for it.
        if (existing !== undefined && !existing.expired && existing.credential_blob !== null && existing.encrypted_secret !== null) {
          return challengeView({ credentialBlob: existing.credential_blob, encryptedSecret: existing.encrypted_secret }, existing.expires_at)
        }
        if (existing !== undefined && existing.age_ms < Duration.toMillis(CHALLENGE_MIN_INTERVAL)) {
          const retryAfter = Math.ceil((Duration.toMillis(CHALLENGE_MIN_INTERVAL) - existing.age_ms) / 1000)
          yield* retryAfterHint(retryAfter)
          return yield* new TooManyRequests({
            message: `a credential challenge for this EK was issued less than ${Duration.toSeconds(CHALLENGE_MIN_INTERVAL)} s ago`,
            details: { retry_after_seconds: retryAfter }
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
          return yield* new Forbidden({
            error: "ek_certificate_required",
            message: `this server requires an EK certificate that chains to ITL_TPM_CA_BUNDLE: ${certificate.right.reason}`
          })
        }
        const fingerprint = ek.right.fingerprint
        const actor: Actor = { name: fingerprint, kind: "machine" }
        return yield* events.transaction(
          Effect.gen(function* () {
            let machine = yield* repo.findByFingerprint(fingerprint)
            const created = machine === undefined
            if (machine === undefined) {
              const retryAfter = limits.registrations.blocked(clientAddress)
              if (retryAfter !== undefined) {
                yield* retryAfterHint(retryAfter)
                return yield* new TooManyRequests({
                  message: `too many new machines registered from ${clientAddress}; try again later`,
                  details: { retry_after_seconds: retryAfter }
                })
              }
              const sameHost = yield* repo.findByHostname(payload.hostname)
              if (sameHost.length > 0) {
                return yield* new Conflict({
                  error: "hostname_taken",
                  message: `hostname ${payload.hostname} is already registered to another EK`,
                  details: { field: "hostname" }
                })
              }
              const inserted = yield* repo.insert({
                ek_fingerprint: fingerprint,
                ek_public_pem: ek.right.pem,
                ek_certificate: payload.ek_certificate?.trim() ?? null,
                hostname: payload.hostname,
                hardware: payload.hardware ?? {}
              })
              // Lost a race with a concurrent registration of the same EK: that one created it.
              if (inserted === undefined) return yield* Effect.die(new Error(`concurrent registration of ${fingerprint}`))
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
            const certVerified = certificate.right.verified
            const answer = (challenge: CredentialChallenge | null) => {
              const fields = { machine: registeredView(machine!, certVerified), challenge }
              return created ? new NewRegistration({ ...fields, created: true }) : new Registration({ ...fields, created: false })
            }
            if (keys === undefined) return answer(null)
            if (machine.ek_verified && machine.ak_name !== null) {
              if (machine.ak_name.equals(keys.right.akName)) return answer(null)
              return yield* new Conflict({
                error: "ak_mismatch",
                message: "this EK is enrolled with another AK; an operator must delete the machine before it can enroll a new AK",
                details: { field: "ak_public" }
              })
            }
            if (NO_CHALLENGE.has(machine.status)) {
              return yield* new Forbidden({
                error: `machine_${machine.status}`,
                message: `this machine is ${machine.status}; it is not sent a credential challenge`
              })
            }
            return answer(yield* issueChallenge(machine, keys.right, certVerified))
          })
        )
      }).pipe(sqlDefect, Effect.withSpan("Enrollment.register"))

    type ActivationFailure = BadRequest | Forbidden | NotFound

    const activate = (machineId: string, secretBase64: string) =>
      Effect.gen(function* () {
        const secret = Buffer.from(secretBase64, "base64")
        // The outcome is decided inside the transaction, but a failed attempt
        // must still commit (the challenge is single use and the attempt audited),
        // so failures are returned, and raised only after the commit.
        const outcome = yield* events.transaction(
          Effect.gen(function* () {
            const machine = yield* repo.findByIdForUpdate(machineId)
            if (machine === undefined) return Either.left<ActivationFailure>(new NotFound({ message: `machine ${machineId} not found` }))
            const challenge = yield* challenges.selectForUpdate(machineId)
            if (challenge === undefined) {
              return Either.left<ActivationFailure>(
                new NotFound({ error: "no_challenge", message: "no credential challenge is outstanding for this machine; register with ak_public first" })
              )
            }
            yield* challenges.remove(machineId)
            const actor: Actor = { name: machine.ek_fingerprint, kind: "machine" }
            const expected = challenge.secret_hash
            const matches = !challenge.expired && crypto.timingSafeEqual(sha256(secret), expected)
            if (!matches) {
              const reason = challenge.expired ? "challenge_expired" : "activation_failed"
              yield* audit.append(actor, { action: "machine.activation_failed", targetType: "machine", targetId: machine.id, details: { reason } })
              return Either.left<ActivationFailure>(
                new Forbidden({
                  error: reason,
                  message: challenge.expired
                    ? "the credential challenge expired; register again for a new one"
                    : "the secret does not match the credential: this TPM does not hold the EK, or the AK differs"
                })
              )
            }
            const enrolled = yield* repo.markEnrolled(machine.id, {
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
      }).pipe(sqlDefect, Effect.withSpan("Enrollment.activate"))

    return { register, activate } as const
  }),
  dependencies: [MachineRepo.Default, ChallengeRepo.Default, ClientRateLimits.Default]
}) {}
