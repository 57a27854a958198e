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
  /** True once the machine proved, with its TPM, that it holds this EK. */
  ek_verified: Schema.Boolean,
  has_ek_certificate: Schema.Boolean,
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
  hostname: Hostname,
  hardware: Schema.optional(Hardware)
}) {}

export class Registration extends Schema.Class<Registration>("Registration")({
  machine: Machine,
  /** False when this EK was already known: nothing about the machine changed. */
  created: Schema.Boolean
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
