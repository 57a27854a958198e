import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { groupUsing } from "../http/narrowContext.js"
import { pageOf } from "../http/Pagination.js"
import { AuditLog } from "./AuditLog.js"

export const AuditHttp = groupUsing(AuditLog)(CoreApi, "audit", (handlers) =>
  Effect.map(AuditLog, (audit) =>
    handlers
      .handle("list", ({ urlParams }) => audit.list(pageOf(urlParams)))
      .handle("verify", () => audit.verify)
  )
)
