import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { CoreApi } from "../CoreApi.js"
import { Enrollment } from "../enrollment/Enrollment.js"
import { pageOf } from "../http/Pagination.js"
import { clientAddress } from "../ratelimit/ClientRateLimits.js"
import { Machines } from "./Machines.js"

export const MachineRegistrationHttp = HttpApiBuilder.group(CoreApi, "machineRegistration", (handlers) =>
  Effect.map(Enrollment, (enrollment) =>
    handlers
      .handle("register", ({ payload, request }) => enrollment.register(payload, clientAddress(request)))
      .handle("activate", ({ path, payload }) => enrollment.activate(path.id, payload.secret))
  )
)

export const MachineHttp = HttpApiBuilder.group(CoreApi, "machines", (handlers) =>
  Effect.map(Machines, (machines) =>
    handlers
      .handle("list", ({ urlParams }) => machines.list(pageOf(urlParams)))
      .handle("get", ({ path }) => machines.get(path.id))
      .handle("approve", ({ path, payload }) => machines.approve(path.id, payload.reason))
      .handle("reject", ({ path, payload }) => machines.reject(path.id, payload.reason))
      .handle("lock", ({ path, payload }) => machines.lock(path.id, payload.reason))
      .handle("unlock", ({ path, payload }) => machines.unlock(path.id, payload.reason))
      .handle("revoke", ({ path, payload }) => machines.revoke(path.id, payload.reason))
      .handle("delete", ({ path }) => machines.remove(path.id))
  )
)
