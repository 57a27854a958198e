/**
 * The rules of the registry, enrollment and attestation challenges, through
 * the real services and repositories over an in-memory PGlite (testLayer.ts):
 * rows decode into domain values, absent rows are Option.none, refusals are
 * domain errors.
 */
import { describe, expect, layer } from "@effect/vitest"
import { DateTime, Effect, Option, Schema } from "effect"
import * as crypto from "node:crypto"
import { Attestation } from "../../src/attestation/Attestation.js"
import { MAX_OUTSTANDING_NONCES } from "../../src/attestation/AttestationErrors.js"
import { AttestationRepo } from "../../src/attestation/AttestationRepo.js"
import { AuditLog, type AuditFilter } from "../../src/audit/AuditLog.js"
import { authorized } from "../../src/authorization/Authorized.js"
import { AuditRead } from "../../src/authorization/coreScopes.js"
import { ChallengeRepo } from "../../src/enrollment/ChallengeRepo.js"
import { Enrollment } from "../../src/enrollment/Enrollment.js"
import { MachineId, type MachineStatus } from "../../src/machines/Machine.js"
import { MachineRepo } from "../../src/machines/MachineRepo.js"
import { coreTestLayer } from "./testLayer.js"

const sha256 = (data: Uint8Array) => crypto.createHash("sha256").update(data).digest()
const randomId = () => MachineId.make(crypto.randomUUID())

/** The audit log as a viewer reads it (the service asks for the audit:read scope). */
const auditList = (filter: AuditFilter) =>
  Effect.flatMap(AuditLog, (audit) => audit.list(filter)).pipe(
    Effect.provideService(authorized(AuditRead), { name: "unit test viewer", role: "viewer", via: "token", scopes: [AuditRead.name] })
  )
const auditVerify = Effect.flatMap(AuditLog, (audit) => audit.verify).pipe(
  Effect.provideService(authorized(AuditRead), { name: "unit test viewer", role: "viewer", via: "token", scopes: [AuditRead.name] })
)

/** A fresh pending machine, optionally moved to `status`. */
const newMachine = (status?: MachineStatus) =>
  Effect.gen(function* () {
    const repo = yield* MachineRepo
    const suffix = crypto.randomBytes(6).toString("hex")
    const inserted = yield* repo.insert({
      ek_fingerprint: `sha256:${suffix}`,
      ek_public_pem: "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
      ek_certificate: null,
      hostname: `Host-${suffix}.example`,
      hardware: { cpu: { cores: 4 }, tags: ["a"] }
    })
    const machine = Option.getOrThrow(inserted)
    if (status === undefined || status === "pending_approval") return machine
    return yield* repo.updateStatus({
      id: machine.id,
      status,
      statusBeforeLock: status === "locked" ? "approved" : null,
      reason: null,
      resetFailures: false,
      approvedBy: "unit test"
    })
  })

/** An outstanding credential challenge whose secret is `secret`. */
const challengeFor = (machineId: MachineId, secret: Buffer, ttlSeconds = 300) =>
  Effect.flatMap(ChallengeRepo, (challenges) =>
    challenges.upsert({
      machine_id: machineId,
      ak_public: Buffer.from("ak public"),
      ak_name: Buffer.from("000b" + "aa".repeat(32), "hex"),
      ek_public_tpm: Buffer.from("ek public"),
      ek_cert_verified: false,
      secret_hash: sha256(secret),
      credential_blob: Buffer.from("blob"),
      encrypted_secret: Buffer.from("encrypted"),
      ttlSeconds
    })
  )

layer(coreTestLayer(), { timeout: "120 seconds" })("core rules over PGlite", (it) => {
  describe("machine rows", () => {
    it.effect("decode into a record with a branded id, DateTime timestamps and the stored hardware", () =>
      Effect.gen(function* () {
        const repo = yield* MachineRepo
        const machine = yield* newMachine()
        expect(Schema.is(MachineId)(machine.id)).toBe(true)
        expect(DateTime.isDateTime(machine.registered_at)).toBe(true)
        expect(machine.approved_at).toBeNull()
        expect(machine.hardware).toEqual({ cpu: { cores: 4 }, tags: ["a"] })
        const again = yield* repo.findById(machine.id)
        expect(Option.map(again, (m) => m.ek_fingerprint)).toEqual(Option.some(machine.ek_fingerprint))
      })
    )

    it.effect("an absent row is Option.none, not undefined", () =>
      Effect.gen(function* () {
        const repo = yield* MachineRepo
        expect(yield* repo.findById(randomId())).toEqual(Option.none())
        expect(yield* repo.findByFingerprint("sha256:none")).toEqual(Option.none())
      })
    )

    it.effect("a known EK is not inserted twice; hostnames match whatever their case", () =>
      Effect.gen(function* () {
        const repo = yield* MachineRepo
        const machine = yield* newMachine()
        const twice = yield* repo.insert({
          ek_fingerprint: machine.ek_fingerprint,
          ek_public_pem: machine.ek_public_pem,
          ek_certificate: null,
          hostname: "other.example",
          hardware: {}
        })
        expect(Option.isNone(twice)).toBe(true)
        const sameHost = yield* repo.findByHostname(machine.hostname.toUpperCase())
        expect(sameHost.map((m) => m.id)).toEqual([machine.id])
      })
    )

    it.effect("approval records who and when", () =>
      Effect.gen(function* () {
        const approved = yield* newMachine("approved")
        expect(approved.status).toBe("approved")
        expect(approved.approved_by).toBe("unit test")
        expect(approved.approved_at !== null && DateTime.isDateTime(approved.approved_at)).toBe(true)
      })
    )
  })

  describe("credential activation", () => {
    it.effect("an unknown machine is MachineNotFound", () =>
      Effect.gen(function* () {
        const id = randomId()
        const error = yield* Effect.flip((yield* Enrollment).activate(id, "c2VjcmV0"))
        expect(error._tag).toBe("MachineNotFound")
        expect(error.message).toBe(`machine ${id} not found`)
      })
    )

    it.effect("without an outstanding challenge it is NoChallenge", () =>
      Effect.gen(function* () {
        const machine = yield* newMachine()
        const error = yield* Effect.flip((yield* Enrollment).activate(machine.id, "c2VjcmV0"))
        expect(error._tag).toBe("NoChallenge")
      })
    )

    it.effect("the right secret binds the challenge's keys to the machine", () =>
      Effect.gen(function* () {
        const machine = yield* newMachine()
        const secret = crypto.randomBytes(32)
        const expiresAt = yield* challengeFor(machine.id, secret)
        expect(DateTime.isDateTime(expiresAt)).toBe(true)
        const enrolled = yield* (yield* Enrollment).activate(machine.id, secret.toString("base64"))
        expect(enrolled.ek_verified).toBe(true)
        expect(enrolled.ak_name).toBe("000b" + "aa".repeat(32))
        expect(enrolled.enrolled_at !== null && DateTime.isDateTime(enrolled.enrolled_at)).toBe(true)
        const stored = Option.getOrThrow(yield* (yield* MachineRepo).findById(machine.id))
        expect(stored.ak_public?.toString()).toBe("ak public")
        expect(stored.ek_public_tpm?.toString()).toBe("ek public")
      })
    )

    it.effect("a wrong secret is ActivationFailed, spends the challenge and is audited", () =>
      Effect.gen(function* () {
        const enrollment = yield* Enrollment
        const machine = yield* newMachine()
        const secret = crypto.randomBytes(32)
        yield* challengeFor(machine.id, secret)
        const error = yield* Effect.flip(enrollment.activate(machine.id, crypto.randomBytes(32).toString("base64")))
        expect(error._tag).toBe("ActivationFailed")
        // Single use: the right secret no longer helps.
        expect((yield* Effect.flip(enrollment.activate(machine.id, secret.toString("base64"))))._tag).toBe("NoChallenge")
        const audit = yield* auditList({ target_id: machine.id, action: "machine.activation_failed", limit: 10, offset: 0 })
        expect(audit.entries.map((e) => e.details)).toEqual([{ reason: "activation_failed" }])
        expect(Option.getOrThrow(yield* (yield* MachineRepo).findById(machine.id)).ek_verified).toBe(false)
      })
    )

    it.effect("an expired challenge is ChallengeExpired, even with the right secret", () =>
      Effect.gen(function* () {
        const machine = yield* newMachine()
        const secret = crypto.randomBytes(32)
        yield* challengeFor(machine.id, secret, 0)
        const error = yield* Effect.flip((yield* Enrollment).activate(machine.id, secret.toString("base64")))
        expect(error._tag).toBe("ChallengeExpired")
        expect(error.message).toBe("the credential challenge expired; register again for a new one")
        const audit = yield* auditList({ target_id: machine.id, limit: 10, offset: 0 })
        expect(audit.entries.map((e) => [e.action, e.details])).toEqual([["machine.activation_failed", { reason: "challenge_expired" }]])
      })
    )
  })

  describe("audit rows", () => {
    it.effect("decode into entries with numeric ids and DateTime times, and the chain verifies", () =>
      Effect.gen(function* () {
        const machine = yield* newMachine()
        yield* challengeFor(machine.id, crypto.randomBytes(32))
        yield* Effect.flip((yield* Enrollment).activate(machine.id, "d3Jvbmc="))
        const [entry] = (yield* auditList({ target_id: machine.id, limit: 1, offset: 0 })).entries
        expect(entry?.actor).toBe(machine.ek_fingerprint)
        expect(entry?.actor_kind).toBe("machine")
        expect(typeof entry?.id).toBe("number")
        expect(entry !== undefined && DateTime.isDateTime(entry.at)).toBe(true)
        const verification = yield* auditVerify
        expect(verification.valid).toBe(true)
        expect(verification.entries).toBeGreaterThanOrEqual(entry?.id ?? Infinity)
      })
    )
  })

  describe("attestation challenges", () => {
    it.effect("an unknown machine is MachineNotFound", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip((yield* Attestation).challenge(randomId()))
        expect(error._tag).toBe("MachineNotFound")
      })
    )

    for (const status of ["locked", "revoked", "rejected"] as const) {
      it.effect(`a ${status} machine is refused a nonce`, () =>
        Effect.gen(function* () {
          const machine = yield* newMachine(status)
          const error = yield* Effect.flip((yield* Attestation).challenge(machine.id))
          expect(error._tag).toBe("MachineCannotAttest")
          expect(error.message).toBe(`this machine is ${status}; it cannot attest`)
        })
      )
    }

    it.effect("without a policy the default PCRs are asked for; the nonce lives 60 s", () =>
      Effect.gen(function* () {
        const machine = yield* newMachine("approved")
        const issued = yield* (yield* Attestation).challenge(machine.id)
        expect(issued.pcr_selection).toBe("sha256:0,1,2,3,4,5,6,7")
        expect(issued.nonce).toMatch(/^[0-9a-f]{64}$/)
        const ttl = DateTime.distance(DateTime.unsafeNow(), issued.expires_at)
        expect(ttl).toBeGreaterThan(50_000)
        expect(ttl).toBeLessThanOrEqual(60_000)
      })
    )

    it.effect("the machine's own policy decides which PCRs are asked for", () =>
      Effect.gen(function* () {
        const machine = yield* newMachine("attested")
        const set = yield* (yield* AttestationRepo).setMachinePolicy(machine.id, { sha256: { "7": "00".repeat(32), "0": "11".repeat(32) } })
        expect(Option.map(set, (m) => m.pcr_policy)).toEqual(Option.some({ sha256: { "0": "11".repeat(32), "7": "00".repeat(32) } }))
        expect((yield* (yield* Attestation).challenge(machine.id)).pcr_selection).toBe("sha256:0,7")
      })
    )

    it.effect(`at most ${MAX_OUTSTANDING_NONCES} unused nonces per machine`, () =>
      Effect.gen(function* () {
        const attestation = yield* Attestation
        const machine = yield* newMachine("approved")
        for (let i = 0; i < MAX_OUTSTANDING_NONCES; i++) yield* attestation.challenge(machine.id)
        const error = yield* Effect.flip(attestation.challenge(machine.id))
        expect(error._tag).toBe("TooManyChallenges")
        if (error._tag === "TooManyChallenges") {
          expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1)
          expect(error.retryAfterSeconds).toBeLessThanOrEqual(60)
        }
        // Another machine is not affected.
        yield* attestation.challenge((yield* newMachine("approved")).id)
      })
    )

    it.effect("a nonce is spent once, and only by the machine it was issued to", () =>
      Effect.gen(function* () {
        const repo = yield* AttestationRepo
        const machine = yield* newMachine("approved")
        const other = yield* newMachine("approved")
        const issued = yield* (yield* Attestation).challenge(machine.id)
        const nonce = Buffer.from(issued.nonce, "hex")
        expect(yield* repo.consumeNonce(nonce, other.id)).toEqual(Option.none())
        const spent = yield* repo.consumeNonce(nonce, machine.id)
        expect(Option.map(spent, (n) => [n.machine_id, n.pcr_selection, n.expired])).toEqual(Option.some([machine.id, issued.pcr_selection, false]))
        expect(yield* repo.consumeNonce(nonce, machine.id)).toEqual(Option.none())
      })
    )
  })
})
