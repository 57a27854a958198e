import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Conflict, Forbidden, NotFound, TooManyRequests } from "../http/ApiError.js"
import { paginationParams } from "../http/Pagination.js"
import { MachinesAdmin, MachinesRead, MachinesWrite } from "../authorization/coreScopes.js"
import { requireScope } from "../authorization/Policy.js"
import { ActivateCredential, Machine, MachineId, MachinePage, MachineStatus, NewRegistration, RegisterMachine, Registration, TransitionRequest } from "./Machine.js"


/** `POST /api/v1/machines/{id}/<action>`: one lifecycle transition (see lifecycle.ts). */
const transitionEndpoint = <const Action extends string>(action: Action) =>
  HttpApiEndpoint.post(action, `/machines/:id/${action}`)
    .setPath(Schema.Struct({ id: MachineId }))
    .setPayload(TransitionRequest)
    .addSuccess(Machine)
    .addError(NotFound)
    .addError(Conflict)
    .middleware(requireScope(MachinesWrite))

/** Registration and credential activation are for machines, which have no operator credentials. */
export class MachineRegistrationApi extends HttpApiGroup.make("machineRegistration")
  .add(
    HttpApiEndpoint.post("register", "/machines/register")
      .setPayload(RegisterMachine)
      .addSuccess(Registration)
      .addSuccess(NewRegistration, { status: 201 })
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(Conflict)
      .addError(TooManyRequests)
  )
  .add(
    HttpApiEndpoint.post("activate", "/machines/:id/activate")
      .setPath(Schema.Struct({ id: MachineId }))
      .setPayload(ActivateCredential)
      .addSuccess(Machine)
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
  )
  .prefix("/api/v1") {}

export class MachineApi extends HttpApiGroup.make("machines")
  .add(
    HttpApiEndpoint.get("list", "/machines")
      .setUrlParams(Schema.Struct({ status: Schema.optional(MachineStatus), hostname: Schema.optional(Schema.String), ...paginationParams }))
      .addSuccess(MachinePage)
      .middleware(requireScope(MachinesRead))
  )
  .add(HttpApiEndpoint.get("get", "/machines/:id").setPath(Schema.Struct({ id: MachineId })).addSuccess(Machine).addError(NotFound).middleware(requireScope(MachinesRead)))
  .add(transitionEndpoint("approve"))
  .add(transitionEndpoint("reject"))
  .add(transitionEndpoint("lock"))
  .add(transitionEndpoint("unlock"))
  .add(transitionEndpoint("revoke"))
  .add(HttpApiEndpoint.del("delete", "/machines/:id").setPath(Schema.Struct({ id: MachineId })).addSuccess(Schema.Void, { status: 204 }).addError(NotFound).middleware(requireScope(MachinesAdmin)))
  .addError(Forbidden)
  .prefix("/api/v1") {}
