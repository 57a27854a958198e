import { Schema } from "effect"
import { IsoTimestamp } from "../schema/IsoTimestamp.js"
import { StoredPcrValues } from "../attestation/PcrPolicy.js"
import { Bytes, jsonb, Timestamp } from "../db/columns.js"

export const MachineStatus = Schema.Literal("pending_approval", "approved", "attested", "rejected", "locked", "revoked")
export type MachineStatus = typeof MachineStatus.Type

/** A machine's id: a UUID the database assigned. Branded, so that no other string (a fingerprint, a hostname) passes for one. */
export const MachineId = Schema.UUID.pipe(Schema.brand("MachineId"), Schema.annotations({ description: "Machine id (UUID)" }))
export type MachineId = typeof MachineId.Type

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
export const Hostname = Schema.String.pipe(
  Schema.pattern(HOSTNAME, { message: () => "must be a hostname (letters, digits, '-' and '.', at most 253 characters)" })
)

export const Hardware = Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
  Schema.annotations({ description: "Free-form hardware details reported by the machine" })
)

/** Limits on what a registering machine may store about itself (see docs/api.md). */
export const HARDWARE_LIMITS = { maxBytes: 16 * 1024, maxDepth: 4, maxKeys: 256 } as const

/** Nesting depth of a JSON value (a scalar is 0) and its number of object keys, stopping once past the limits. */
const shapeOf = (value: unknown, depth = 0): { depth: number; keys: number } => {
  if (typeof value !== "object" || value === null || depth > HARDWARE_LIMITS.maxDepth) return { depth, keys: 0 }
  const children = Array.isArray(value) ? value : Object.values(value)
  let deepest = depth + 1
  let keys = Array.isArray(value) ? 0 : children.length
  for (const child of children) {
    const shape = shapeOf(child, depth + 1)
    deepest = Math.max(deepest, shape.depth)
    keys += shape.keys
    if (deepest > HARDWARE_LIMITS.maxDepth || keys > HARDWARE_LIMITS.maxKeys) break
  }
  return { depth: deepest, keys }
}

/** `hardware` as a machine may send it: at most 16 KiB of JSON, nested at most 4 deep, at most 256 keys in all. */
export const HardwareInput = Hardware.pipe(
  Schema.filter((hardware) => {
    const shape = shapeOf(hardware)
    if (shape.depth > HARDWARE_LIMITS.maxDepth) return `must not nest objects or arrays more than ${HARDWARE_LIMITS.maxDepth} levels deep`
    if (shape.keys > HARDWARE_LIMITS.maxKeys) return `must not have more than ${HARDWARE_LIMITS.maxKeys} keys in all`
    const bytes = Buffer.byteLength(JSON.stringify(hardware), "utf8")
    return bytes <= HARDWARE_LIMITS.maxBytes || `must be at most ${HARDWARE_LIMITS.maxBytes} bytes as JSON (is ${bytes})`
  })
)

export class Machine extends Schema.Class<Machine>("Machine")({
  id: MachineId,
  ek_fingerprint: Schema.String,
  hostname: Schema.String,
  status: MachineStatus,
  /** True once the machine proved, with its TPM, that it holds this EK (credential activation). */
  ek_verified: Schema.Boolean,
  has_ek_certificate: Schema.Boolean,
  /** True when the EK certificate chains to ITL_TPM_CA_BUNDLE. */
  ek_cert_verified: Schema.Boolean,
  /** Hex TPM Name of the AK bound by credential activation; quotes must be signed by it. */
  ak_name: Schema.NullOr(Schema.String),
  enrolled_at: Schema.NullOr(IsoTimestamp),
  failed_attestations: Schema.Number,
  hardware: Hardware,
  status_reason: Schema.NullOr(Schema.String),
  registered_at: IsoTimestamp,
  updated_at: IsoTimestamp,
  approved_at: Schema.NullOr(IsoTimestamp),
  approved_by: Schema.NullOr(Schema.String),
  last_attested_at: Schema.NullOr(IsoTimestamp)
}) {}

/**
 * A row of the `machines` table, decoded: what the services work with. Keys
 * and the PCR policy stay here; the API shows the `Machine` view of it.
 */
export class MachineRecord extends Schema.Class<MachineRecord>("MachineRecord")({
  id: MachineId,
  ek_fingerprint: Schema.String,
  ek_public_pem: Schema.String,
  ek_certificate: Schema.NullOr(Schema.String),
  hostname: Schema.String,
  hardware: jsonb(Hardware),
  status: MachineStatus,
  status_before_lock: Schema.NullOr(MachineStatus),
  status_reason: Schema.NullOr(Schema.String),
  ek_verified: Schema.Boolean,
  registered_at: Timestamp,
  updated_at: Timestamp,
  approved_at: Schema.NullOr(Timestamp),
  approved_by: Schema.NullOr(Schema.String),
  last_attested_at: Schema.NullOr(Timestamp),
  /** The EK's TPM2B_PUBLIC area, once bound by credential activation. */
  ek_public_tpm: Schema.NullOr(Bytes),
  ak_public: Schema.NullOr(Bytes),
  ak_name: Schema.NullOr(Bytes),
  ek_cert_verified: Schema.Boolean,
  enrolled_at: Schema.NullOr(Timestamp),
  /** The machine's own PCR policy (null: the default applies). */
  pcr_policy: Schema.NullOr(jsonb(StoredPcrValues)),
  failed_attestations: Schema.Number
}) {}

/**
 * The API's view of a machine: no keys, no policy. Built without a second
 * validation: the record was decoded from its row, and the response encoder
 * checks the result against `Machine` again on the way out.
 */
export const toMachine = (record: MachineRecord) =>
  new Machine({
    id: record.id,
    ek_fingerprint: record.ek_fingerprint,
    hostname: record.hostname,
    status: record.status,
    ek_verified: record.ek_verified,
    has_ek_certificate: record.ek_certificate !== null,
    ek_cert_verified: record.ek_cert_verified,
    ak_name: record.ak_name === null ? null : record.ak_name.toString("hex"),
    enrolled_at: record.enrolled_at,
    failed_attestations: record.failed_attestations,
    hardware: record.hardware,
    status_reason: record.status_reason,
    registered_at: record.registered_at,
    updated_at: record.updated_at,
    approved_at: record.approved_at,
    approved_by: record.approved_by,
    last_attested_at: record.last_attested_at
  }, true)

export class RegisterMachine extends Schema.Class<RegisterMachine>("RegisterMachine")({
  /** PEM SubjectPublicKeyInfo, or base64 of a TPM2B_PUBLIC (as written by `tpm2_createek -u`). */
  ek_public: Schema.String.pipe(Schema.minLength(1)),
  /** PEM or base64 DER. */
  ek_certificate: Schema.optional(Schema.String),
  /**
   * Base64 TPM2B_PUBLIC of an attestation key created under the EK (`tpm2_createak -u`).
   * With it (and the EK as TPM2B_PUBLIC), the answer carries a credential challenge.
   */
  ak_public: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  hostname: Hostname,
  hardware: Schema.optional(HardwareInput)
}) {}

/**
 * TPM2_MakeCredential output for the machine's EK and AK name. Only the TPM that
 * holds the EK, with that AK loaded, recovers the secret (`tpm2_activatecredential`).
 */
export class CredentialChallenge extends Schema.Class<CredentialChallenge>("CredentialChallenge")({
  /** Base64 TPM2B_ID_OBJECT. */
  credential_blob: Schema.String,
  /** Base64 TPM2B_ENCRYPTED_SECRET. */
  encrypted_secret: Schema.String,
  /** Base64 of the file `tpm2_activatecredential -i` reads (the two above in tpm2-tools' format). */
  credential_file: Schema.String,
  expires_at: IsoTimestamp
}) {}

/**
 * What registration tells its caller, who is not authenticated (anyone may
 * hold an EK's public key): what the machine needs to go on, nothing an
 * operator decided or recorded about it.
 */
export class RegisteredMachine extends Schema.Class<RegisteredMachine>("RegisteredMachine")({
  id: MachineId,
  ek_fingerprint: Schema.String,
  status: MachineStatus,
  /** True once the machine proved its EK by credential activation. */
  ek_verified: Schema.Boolean,
  /**
   * Whether the EK certificate chains to ITL_TPM_CA_BUNDLE: for an enrolled
   * machine, as recorded at activation; otherwise the verdict on the
   * certificate sent with this registration (recorded when it activates).
   */
  ek_cert_verified: Schema.Boolean
}) {}

const registrationFields = {
  machine: RegisteredMachine,
  /** Present when the machine must still prove its EK: answer it at `POST /machines/{id}/activate`. */
  challenge: Schema.NullOr(CredentialChallenge)
}

/** A known EK (HTTP 200): nothing about the machine changed. */
export class Registration extends Schema.Class<Registration>("Registration")({
  ...registrationFields,
  /** False: the EK was already known. (`created` also tells the two answers apart when encoding.) */
  created: Schema.Literal(false)
}) {}

/** A new EK: the machine was created, pending approval (HTTP 201). */
export class NewRegistration extends Schema.Class<NewRegistration>("NewRegistration")({
  ...registrationFields,
  /** True: this registration created the machine. */
  created: Schema.Literal(true)
}) {}

export class ActivateCredential extends Schema.Class<ActivateCredential>("ActivateCredential")({
  /** Base64 of the secret `tpm2_activatecredential` recovered. */
  secret: Schema.String.pipe(Schema.minLength(1))
}) {}

export class MachinePage extends Schema.Class<MachinePage>("MachinePage")({
  machines: Schema.Array(Machine),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export class TransitionRequest extends Schema.Class<TransitionRequest>("TransitionRequest")({
  reason: Schema.optional(Schema.String.pipe(Schema.maxLength(1024)))
}) {}
