import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { authorized } from "../authorization/Authorized.js"
import { AuditRead } from "../authorization/coreScopes.js"
import { CoreApi } from "../CoreApi.js"
import { pageOf } from "../http/Pagination.js"
import { AuditLog } from "./AuditLog.js"

export const AuditHttp = HttpApiBuilder.group(CoreApi, "audit", (handlers) =>
  Effect.map(AuditLog, (audit) =>
    handlers
      .handle("list", ({ urlParams }) => Effect.zipRight(authorized(AuditRead), audit.list(pageOf(urlParams))))
      .handle("verify", () => Effect.zipRight(authorized(AuditRead), audit.verify))
  )
)
