import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { requireRole } from "../operators/OperatorTokens.js"
import { pageOf } from "../http/Pagination.js"
import { AuditLog } from "./AuditLog.js"

export const AuditHttp = HttpApiBuilder.group(CoreApi, "audit", (handlers) =>
  Effect.map(AuditLog, (audit) =>
    handlers
      .handle("list", ({ urlParams }) => Effect.zipRight(requireRole("viewer"), audit.list(pageOf(urlParams))))
      .handle("verify", () => Effect.zipRight(requireRole("viewer"), audit.verify))
  )
)
