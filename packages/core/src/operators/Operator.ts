import { Schema } from "effect"

export const Role = Schema.Literal("admin", "operator", "viewer")
export type Role = typeof Role.Type

/** Higher rank includes the rights of lower ranks. */
const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }
export const roleAtLeast = (role: Role, required: Role) => rank[role] >= rank[required]

/** The authenticated operator of the current request. */
export interface OperatorIdentity {
  /** Recorded as `approved_by`, `created_by`, audit `actor`: the token's name or the client certificate's subject DN. */
  readonly name: string
  readonly role: Role
  readonly via: "token" | "mtls"
  readonly tokenId?: string
  /** The scopes the token is limited to; null: every scope of its role (always null for mTLS). */
  readonly scopes: ReadonlyArray<string> | null
}

export const TokenName = Schema.String.pipe(
  Schema.trimmed(),
  Schema.minLength(1),
  Schema.maxLength(128),
  Schema.annotations({ description: "A label for the token, recorded as the actor of its changes" })
)

export class OperatorToken extends Schema.Class<OperatorToken>("OperatorToken")({
  id: Schema.UUID,
  name: Schema.String,
  role: Role,
  /** The scopes the token is limited to; null: every scope of its role. */
  scopes: Schema.NullOr(Schema.Array(Schema.String)),
  created_at: Schema.String,
  created_by: Schema.String,
  last_used_at: Schema.NullOr(Schema.String),
  revoked_at: Schema.NullOr(Schema.String)
}) {}

export class CreatedOperatorToken extends Schema.Class<CreatedOperatorToken>("CreatedOperatorToken")({
  ...OperatorToken.fields,
  /** Shown once, at creation; only its hash is stored. */
  token: Schema.String
}) {}

export class OperatorTokenList extends Schema.Class<OperatorTokenList>("OperatorTokenList")({
  tokens: Schema.Array(OperatorToken),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
}) {}

export class CreateOperatorToken extends Schema.Class<CreateOperatorToken>("CreateOperatorToken")({
  name: TokenName,
  role: Role,
  /** Limits the token to these scopes (each one its role has); absent: every scope of the role. */
  scopes: Schema.optional(
    Schema.Array(Schema.String.pipe(Schema.maxLength(200))).pipe(
      Schema.minItems(1, { message: () => "must name at least one scope; leave it out for every scope of the role" }),
      Schema.maxItems(100)
    )
  )
}) {}
