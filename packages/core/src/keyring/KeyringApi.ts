/** `POST /api/v1/keyring/rewrap`: move what the master key seals to the current master key (admin). */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Forbidden } from "../http/ApiError.js"
import { KeyringAdmin } from "../authorization/coreScopes.js"
import { requireScope } from "../authorization/Policy.js"
import { MAX_REWRAP_LIMIT } from "./rewrapLimits.js"

const RewrapCursor = Schema.Struct({ table: Schema.String, after: Schema.String })

export class RewrapRequest extends Schema.Class<RewrapRequest>("RewrapRequest")({
  /** Rows to visit in this call (default 100). */
  limit: Schema.optional(
    Schema.Int.pipe(Schema.between(1, MAX_REWRAP_LIMIT, { message: () => `must be an integer from 1 to ${MAX_REWRAP_LIMIT}` }))
  ),
  /** The `cursor` of the previous call of the same pass; absent or null starts a pass. */
  cursor: Schema.optional(Schema.NullOr(RewrapCursor))
}) {}

export class MasterKeyRewrapResult extends Schema.Class<MasterKeyRewrapResult>("MasterKeyRewrapResult")({
  key_id: Schema.String,
  rewrapped: Schema.Number,
  failed: Schema.Number,
  failures: Schema.Array(Schema.Struct({ table: Schema.String, id: Schema.String, reason: Schema.String })),
  cursor: Schema.NullOr(RewrapCursor),
  tables: Schema.Array(Schema.Struct({ owner: Schema.String, table: Schema.String, remaining: Schema.Number })),
  remaining: Schema.Number
}) {}

export class KeyringApi extends HttpApiGroup.make("keyring")
  .add(
    HttpApiEndpoint.post("rewrap", "/keyring/rewrap")
      .setPayload(RewrapRequest)
      .addSuccess(MasterKeyRewrapResult)
      .addError(BadRequest)
      .middleware(requireScope(KeyringAdmin))
  )
  .addError(Forbidden)
  .prefix("/api/v1") {}
