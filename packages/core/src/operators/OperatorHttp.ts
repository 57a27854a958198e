import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { groupUsing } from "../http/narrowContext.js"
import { pageOf } from "../http/Pagination.js"
import { OperatorTokens } from "./OperatorTokens.js"

export const OperatorHttp = groupUsing(OperatorTokens)(CoreApi, "operators", (handlers) =>
  Effect.map(OperatorTokens, (tokens) =>
    handlers
      .handle("create", ({ payload }) => tokens.create(payload.name, payload.role, payload.scopes))
      .handle("list", ({ urlParams }) => tokens.list(pageOf(urlParams)))
      .handle("revoke", ({ path }) => tokens.revoke(path.id))
  )
)
