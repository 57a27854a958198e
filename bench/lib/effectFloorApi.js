/**
 * The effect floor's API (bench/lib/effectFloor.js): errors with their HTTP
 * status, the two bearer-token security middlewares and what they provide,
 * and the endpoints with the service's request and response shapes, as plain
 * `Schema.Struct`s.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity } from "@effect/platform"
import { Context, Schema } from "effect"

// ---- errors and identities
const error = (tag, status) => Schema.TaggedError()(tag, { message: Schema.String }, HttpApiSchema.annotations({ status }))
export class BadRequest extends error("BadRequest", 400) {}
export class Unauthorized extends error("Unauthorized", 401) {}
export class Forbidden extends error("Forbidden", 403) {}
export class NotFound extends error("NotFound", 404) {}
export class Conflict extends error("Conflict", 409) {}
export class TooManyRequests extends error("TooManyRequests", 429) {}

export class CurrentMachine extends Context.Tag("CurrentMachine")() {}
export class CurrentOperator extends Context.Tag("CurrentOperator")() {}
export class MachineAuth extends HttpApiMiddleware.Tag()("MachineAuth", {
  failure: Unauthorized, provides: CurrentMachine, security: { session: HttpApiSecurity.bearer }
}) {}
export class OperatorAuth extends HttpApiMiddleware.Tag()("OperatorAuth", {
  failure: Unauthorized, provides: CurrentOperator, security: { token: HttpApiSecurity.bearer }
}) {}

// ---- schemas (the service's request and response shapes)
export const SecretName = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._-]{1,128}$/))
export const Hostname = Schema.String.pipe(Schema.pattern(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/))
export const Status = Schema.Literal("pending_approval", "approved", "attested", "rejected", "locked", "revoked")
export const Machine = Schema.Struct({
  id: Schema.UUID, ek_fingerprint: Schema.String, hostname: Schema.String, status: Status, ek_verified: Schema.Boolean,
  has_ek_certificate: Schema.Boolean, ek_cert_verified: Schema.Boolean, ak_name: Schema.NullOr(Schema.String),
  enrolled_at: Schema.NullOr(Schema.Date), failed_attestations: Schema.Number, hardware: Schema.Unknown,
  status_reason: Schema.NullOr(Schema.String), registered_at: Schema.Date, updated_at: Schema.Date,
  approved_at: Schema.NullOr(Schema.Date), approved_by: Schema.NullOr(Schema.String), last_attested_at: Schema.NullOr(Schema.Date)
})
export const toMachine = (row) => ({
  id: row.id, ek_fingerprint: row.ek_fingerprint, hostname: row.hostname, status: row.status, ek_verified: row.ek_verified,
  has_ek_certificate: row.ek_certificate !== null, ek_cert_verified: row.ek_cert_verified,
  ak_name: row.ak_name === null ? null : row.ak_name.toString("hex"), enrolled_at: row.enrolled_at,
  failed_attestations: row.failed_attestations, hardware: row.hardware, status_reason: row.status_reason,
  registered_at: row.registered_at, updated_at: row.updated_at, approved_at: row.approved_at, approved_by: row.approved_by,
  last_attested_at: row.last_attested_at
})
export const SharedSecretValue = Schema.Struct({ name: Schema.String, value: Schema.String, accessed_at: Schema.Date })
export const TpmBoundSecret = Schema.Struct({
  secret_id: Schema.UUID, name: Schema.String, scheme: Schema.Literal("tpm2-credential-v1"), credential_blob: Schema.String,
  encrypted_secret: Schema.String, credential_file: Schema.String, ciphertext: Schema.String, nonce: Schema.String, tag: Schema.String
})
export const RegisterMachine = Schema.Struct({
  ek_public: Schema.String.pipe(Schema.minLength(1)), ek_certificate: Schema.optional(Schema.String),
  ak_public: Schema.optional(Schema.String.pipe(Schema.minLength(1))), hostname: Hostname,
  hardware: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
export const Registration = Schema.Struct({
  machine: Schema.Struct({ id: Schema.UUID, ek_fingerprint: Schema.String, status: Status, ek_verified: Schema.Boolean, ek_cert_verified: Schema.Boolean }),
  challenge: Schema.Null,
  created: Schema.Boolean
})
export const PcrValues = Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.String }) })
export const ChallengeRequest = Schema.Struct({ machine_id: Schema.UUID })
export const Challenge = Schema.Struct({ nonce: Schema.String, pcr_selection: Schema.String, expires_at: Schema.Date })
export const AttestationRequest = Schema.Struct({ machine_id: Schema.UUID, quote: Schema.String, signature: Schema.String, pcrs: Schema.Union(Schema.String, PcrValues) })
export const AttestationResult = Schema.Struct({ session_token: Schema.String, expires_at: Schema.Date, machine: Machine })

// ---- the API
export class Secrets extends HttpApiGroup.make("secrets")
  .add(HttpApiEndpoint.get("shared", "/shared-secrets/by-name/:name/value")
    .setPath(Schema.Struct({ name: SecretName })).addSuccess(SharedSecretValue).addError(NotFound).addError(Forbidden))
  .add(HttpApiEndpoint.get("machine", "/secrets/machines/:id/secrets/:name")
    .setPath(Schema.Struct({ id: Schema.UUID, name: SecretName }))
    .setUrlParams(Schema.Struct({ scheme: Schema.optional(Schema.Literal("tpm2-credential-v1")) }))
    .addSuccess(TpmBoundSecret).addError(NotFound).addError(Conflict))
  .middleware(MachineAuth)
  .prefix("/api/v1") {}
export class Machines extends HttpApiGroup.make("machines")
  .add(HttpApiEndpoint.post("register", "/machines/register").setPayload(RegisterMachine).addSuccess(Registration, { status: 201 })
    .addError(BadRequest).addError(Conflict))
  .add(HttpApiEndpoint.post("challenge", "/attest/challenge").setPayload(ChallengeRequest).addSuccess(Challenge)
    .addError(NotFound).addError(Conflict).addError(TooManyRequests))
  .add(HttpApiEndpoint.post("attest", "/attest").setPayload(AttestationRequest).addSuccess(AttestationResult)
    .addError(BadRequest).addError(Unauthorized).addError(NotFound).addError(Conflict))
  .add(HttpApiEndpoint.get("get", "/machines/:id").setPath(Schema.Struct({ id: Schema.UUID })).addSuccess(Machine)
    .addError(NotFound).middleware(OperatorAuth))
  .prefix("/api/v1") {}
export class Api extends HttpApi.make("floor").add(Secrets).add(Machines) {}
