import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Forbidden, NotFound } from "../http/ApiError.js"
import { pageParams } from "../http/Pagination.js"
import { RequireAdmin } from "./Authentication.js"
import { CreatedOperatorToken, CreateOperatorToken, OperatorToken, OperatorTokenList } from "./Operator.js"

export class OperatorApi extends HttpApiGroup.make("operators")
  .add(
    HttpApiEndpoint.post("create", "/operators/tokens")
      .setPayload(CreateOperatorToken)
      .addSuccess(CreatedOperatorToken, { status: 201 })
      .middleware(RequireAdmin)
  )
  .add(HttpApiEndpoint.get("list", "/operators/tokens").setUrlParams(pageParams).addSuccess(OperatorTokenList).middleware(RequireAdmin))
  .add(
    HttpApiEndpoint.del("revoke", "/operators/tokens/:id")
      .setPath(Schema.Struct({ id: Schema.UUID }))
      .addSuccess(OperatorToken)
      .addError(NotFound)
      .middleware(RequireAdmin)
  )
  .addError(Forbidden)
  .prefix("/api/v1") {}
