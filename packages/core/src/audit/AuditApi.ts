import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Forbidden } from "../http/ApiError.js"
import { paginationParams } from "../http/Pagination.js"
import { RequireViewer } from "../operators/Authentication.js"
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
      .middleware(RequireViewer)
  )
  .add(HttpApiEndpoint.get("verify", "/audit/verify").addSuccess(AuditVerification).middleware(RequireViewer))
  .addError(Forbidden)
  .prefix("/api/v1") {}
