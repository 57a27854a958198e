import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { pageOf } from "../http/Pagination.js"
import { AuditLog } from "./AuditLog.js"

export const AuditHttp = HttpApiBuilder.group(CoreApi, "audit", (handlers) =>
  Effect.map(AuditLog, (audit) =>
    handlers
      .handle("list", ({ urlParams }) => audit.list(pageOf(urlParams)))
      .handle("verify", () => audit.verify)
  )
)
