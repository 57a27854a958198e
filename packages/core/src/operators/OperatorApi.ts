import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Forbidden, NotFound } from "../http/ApiError.js"
import { pageParams } from "../http/Pagination.js"
import { OperatorsAdmin } from "../authorization/coreScopes.js"
import { requireScope } from "../authorization/Policy.js"
import { CreatedOperatorToken, CreateOperatorToken, OperatorToken, OperatorTokenList } from "./Operator.js"

export class OperatorApi extends HttpApiGroup.make("operators")
  .add(
    HttpApiEndpoint.post("create", "/operators/tokens")
      .setPayload(CreateOperatorToken)
      .addSuccess(CreatedOperatorToken, { status: 201 })
      .addError(BadRequest)
      .middleware(requireScope(OperatorsAdmin))
  )
  .add(HttpApiEndpoint.get("list", "/operators/tokens").setUrlParams(pageParams).addSuccess(OperatorTokenList).middleware(requireScope(OperatorsAdmin)))
  .add(
    HttpApiEndpoint.del("revoke", "/operators/tokens/:id")
      .setPath(Schema.Struct({ id: Schema.UUID }))
      .addSuccess(OperatorToken)
      .addError(NotFound)
      .middleware(requireScope(OperatorsAdmin))
  )
  .addError(Forbidden)
  .prefix("/api/v1") {}
