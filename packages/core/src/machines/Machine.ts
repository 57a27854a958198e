import { Schema } from "effect"

export const MachineStatus = Schema.Literal("pending_approval", "approved", "attested", "rejected", "locked", "revoked")
export type MachineStatus = typeof MachineStatus.Type

export const MachineId = Schema.UUID.pipe(Schema.annotations({ description: "Machine id (UUID)" }))

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
export const Hostname = Schema.String.pipe(
  Schema.pattern(HOSTNAME, { message: () => "must be a hostname (letters, digits, '-' and '.', at most 253 characters)" })
)

export const Hardware = Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
  Schema.annotations({ description: "Free-form hardware details reported by the machine" })
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
  enrolled_at: Schema.NullOr(Schema.String),
  failed_attestations: Schema.Number,
  hardware: Hardware,
  status_reason: Schema.NullOr(Schema.String),
  registered_at: Schema.String,
  updated_at: Schema.String,
  approved_at: Schema.NullOr(Schema.String),
  approved_by: Schema.NullOr(Schema.String),
  last_attested_at: Schema.NullOr(Schema.String)
}) {}

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
  hardware: Schema.optional(Hardware)
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
  expires_at: Schema.String
}) {}

export class Registration extends Schema.Class<Registration>("Registration")({
  machine: Machine,
  /** False when this EK was already known: nothing about the machine changed. */
  created: Schema.Boolean,
  /** Present when the machine must still prove its EK: answer it at `POST /machines/{id}/activate`. */
  challenge: Schema.NullOr(CredentialChallenge)
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
