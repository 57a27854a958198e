import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Forbidden } from "../http/ApiError.js"
import { paginationParams } from "../http/Pagination.js"
import { AuditRead } from "../authorization/coreScopes.js"
import { requireScope } from "../authorization/Policy.js"
import { AuditPage, AuditVerification } from "./AuditEntry.js"

export class AuditApi extends HttpApiGroup.make("audit")
  .add(
    HttpApiEndpoint.get("list", "/audit")
      .setUrlParams(
        Schema.Struct({
          actor: Schema.optional(Schema.String),
          action: Schema.optional(Schema.String),
          target_type: Schema.optional(Schema.String),
          target_id: Schema.optional(Schema.String),
          since: Schema.optional(Schema.Date),
          until: Schema.optional(Schema.Date),
          ...paginationParams
        })
      )
      .addSuccess(AuditPage)
      .middleware(requireScope(AuditRead))
  )
  .add(HttpApiEndpoint.get("verify", "/audit/verify").addSuccess(AuditVerification).middleware(requireScope(AuditRead)))
  .addError(Forbidden)
  .prefix("/api/v1") {}
