import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Forbidden, NotFound } from "../http/ApiError.js"
import { Authentication } from "./Authentication.js"
import { CreatedOperatorToken, CreateOperatorToken, OperatorToken, OperatorTokenList } from "./Operator.js"

export class OperatorApi extends HttpApiGroup.make("operators")
  .add(
    HttpApiEndpoint.post("create", "/operators/tokens")
      .setPayload(CreateOperatorToken)
      .addSuccess(CreatedOperatorToken, { status: 201 })
  )
  .add(HttpApiEndpoint.get("list", "/operators/tokens").addSuccess(OperatorTokenList))
  .add(
    HttpApiEndpoint.del("revoke", "/operators/tokens/:id")
      .setPath(Schema.Struct({ id: Schema.UUID }))
      .addSuccess(OperatorToken)
      .addError(NotFound)
  )
  .addError(Forbidden)
  .middleware(Authentication)
  .prefix("/api/v1") {}
