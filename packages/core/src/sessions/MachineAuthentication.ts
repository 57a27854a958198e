/**
 * The middleware that machine endpoints (the core's and extensions') declare:
 * `Authorization: Bearer <machine session token>`. Only the tag, so that API
 * definitions (and the clients derived from them) do not load the server;
 * the implementation is MachineAuthenticationLive.ts.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Unauthorized } from "../http/ApiError.js"
import { CurrentMachine } from "./CurrentMachine.js"

export class MachineAuthentication extends HttpApiMiddleware.Tag<MachineAuthentication>()("MachineAuthentication", {
  failure: Unauthorized,
  provides: CurrentMachine,
  security: { machineSession: HttpApiSecurity.bearer }
}) {}
