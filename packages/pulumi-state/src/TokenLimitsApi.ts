/**
 * The operator API of pulumi_state (core format, `Authorization: Bearer`):
 * limiting an operator token to one Pulumi org, or one project of it. A
 * limited token sees and changes only stacks there; `/api/user` names that org
 * as the user's.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { BadRequest, Forbidden, NotFound, requireScope, strictPayloads } from "@itl-attestation/core/api"
import { Schema } from "effect"
import { ORG_PATTERN } from "./PulumiConfig.js"
import { PulumiAdmin } from "./scopes.js"

export const SetTokenLimit = Schema.Struct({
  org: Schema.String.pipe(Schema.pattern(ORG_PATTERN, { message: () => "must be a Pulumi organization name (3–40 letters, digits, - or _)" })),
  project: Schema.optional(
    Schema.NullOr(Schema.String.pipe(Schema.pattern(/^[a-zA-Z0-9_.-]{1,100}$/, { message: () => "must be a Pulumi project name (1–100 letters, digits, - _ .)" })))
  )
})

export class TokenLimit extends Schema.Class<TokenLimit>("PulumiTokenLimit")({
  token_id: Schema.UUID,
  token_name: Schema.String,
  org: Schema.String,
  project: Schema.NullOr(Schema.String),
  created_by: Schema.String,
  created_at: Schema.String
}) {}

export class TokenLimitList extends Schema.Class<TokenLimitList>("PulumiTokenLimitList")({ limits: Schema.Array(TokenLimit) }) {}

const TokenPath = Schema.Struct({ token_id: Schema.UUID })

export class TokenLimitsGroup extends HttpApiGroup.make("pulumiTokenLimits")
  .add(
    HttpApiEndpoint.put("set", "/pulumi/token-limits/:token_id")
      .setPath(TokenPath)
      .setPayload(SetTokenLimit)
      .addSuccess(TokenLimit)
      .addError(NotFound)
      .addError(BadRequest)
      .annotate(OpenApi.Summary, "Limit an operator token's Pulumi access to one org (and optionally one project)")
  )
  .add(HttpApiEndpoint.get("list", "/pulumi/token-limits").addSuccess(TokenLimitList).annotate(OpenApi.Summary, "Every token limit"))
  .add(
    HttpApiEndpoint.del("remove", "/pulumi/token-limits/:token_id")
      .setPath(TokenPath)
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
      .annotate(OpenApi.Summary, "Lift a token's limit")
  )
  .middleware(requireScope(PulumiAdmin))
  .addError(Forbidden)
  .prefix("/api/v1") {}

export class TokenLimitsApi extends strictPayloads(HttpApi.make("pulumi_state_admin").add(TokenLimitsGroup)) {}
