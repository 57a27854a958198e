/** secret_vault's API schemas. Values appear only in create/rotate payloads and in machine deliveries. */
import { MachineId } from "@itl-attestation/core/api"
import { Schema } from "effect"

export const SecretName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9._-]{1,128}$/, { message: () => "must be 1 to 128 of A-Z a-z 0-9 . _ -" })
)

/** Checked in bytes by the services (413 beyond 64 KiB), so the schema only asks for a string. */
export const SecretValue = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))

export const MAX_VALUE_BYTES = 64 * 1024

export class CreateSecret extends Schema.Class<CreateSecret>("CreateSecret")({ name: SecretName, value: SecretValue }) {}

export class SecretMetadata extends Schema.Class<SecretMetadata>("SecretMetadata")({
  secret_id: Schema.UUID,
  machine_id: MachineId,
  name: Schema.String,
  key_id: Schema.String,
  created_at: Schema.String,
  created_by: Schema.String,
  last_accessed_at: Schema.NullOr(Schema.String),
  access_count: Schema.Number
}) {}

export class SecretList extends Schema.Class<SecretList>("SecretList")({
  secrets: Schema.Array(SecretMetadata),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export const DeliveryScheme = Schema.Literal("tpm2-credential-v1", "hkdf-ek-v1")
export type DeliveryScheme = typeof DeliveryScheme.Type

/** Only the machine's TPM can recover `key` (MakeCredential to its EK and AK); the value is AES-256-GCM under it. */
export class TpmBoundSecret extends Schema.Class<TpmBoundSecret>("TpmBoundSecret")({
  secret_id: Schema.UUID,
  name: Schema.String,
  scheme: Schema.Literal("tpm2-credential-v1"),
  credential_blob: Schema.String,
  encrypted_secret: Schema.String,
  /** The two above in the file format `tpm2_activatecredential -i` reads. */
  credential_file: Schema.String,
  /** AES-256-GCM (AAD: the secret's name) under the 32 bytes the TPM recovers; base64. */
  ciphertext: Schema.String,
  nonce: Schema.String,
  tag: Schema.String
}) {}

/** The original scheme: the key is derived from the (public) EK fingerprint, so it protects nothing from someone who knows it. */
export class FingerprintBoundSecret extends Schema.Class<FingerprintBoundSecret>("FingerprintBoundSecret")({
  secret_id: Schema.UUID,
  name: Schema.String,
  scheme: Schema.Literal("hkdf-ek-v1"),
  encrypted_value: Schema.String,
  nonce: Schema.String,
  tag: Schema.String
}) {}

export class CreateSharedSecret extends Schema.Class<CreateSharedSecret>("CreateSharedSecret")({
  name: SecretName,
  value: SecretValue,
  description: Schema.optional(Schema.String.pipe(Schema.maxLength(1024)))
}) {}

export class UpdateSharedSecret extends Schema.Class<UpdateSharedSecret>("UpdateSharedSecret")({
  description: Schema.optional(Schema.String.pipe(Schema.maxLength(1024))),
  /** A new value: re-encrypted, `last_rotated_at` set. */
  value: Schema.optional(SecretValue)
}) {}

export class SharedSecret extends Schema.Class<SharedSecret>("SharedSecret")({
  shared_secret_id: Schema.UUID,
  name: Schema.String,
  encryption_key_id: Schema.String,
  created_at: Schema.String,
  created_by: Schema.String,
  last_rotated_at: Schema.NullOr(Schema.String),
  description: Schema.NullOr(Schema.String),
  authorized_machine_count: Schema.Number
}) {}

export class SharedSecretList extends Schema.Class<SharedSecretList>("SharedSecretList")({
  secrets: Schema.Array(SharedSecret),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export class MachineIds extends Schema.Class<MachineIds>("MachineIds")({
  machine_ids: Schema.Array(MachineId).pipe(Schema.minItems(1), Schema.maxItems(1000))
}) {}

export class AccessGrant extends Schema.Class<AccessGrant>("AccessGrant")({
  machine_id: MachineId,
  hostname: Schema.String,
  granted_at: Schema.String,
  granted_by: Schema.String,
  last_accessed_at: Schema.NullOr(Schema.String),
  access_count: Schema.Number
}) {}

export class AccessGrantList extends Schema.Class<AccessGrantList>("AccessGrantList")({
  access_grants: Schema.Array(AccessGrant),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export class SharedSecretValue extends Schema.Class<SharedSecretValue>("SharedSecretValue")({
  name: Schema.String,
  value: Schema.String,
  accessed_at: Schema.String
}) {}

export class RewrapResult extends Schema.Class<RewrapResult>("RewrapResult")({
  /** Rows moved to the current key by this call. */
  rewrapped: Schema.Number,
  /** Rows still under another key (0 when done). */
  remaining: Schema.Number,
  encryption_key_id: Schema.String
}) {}
