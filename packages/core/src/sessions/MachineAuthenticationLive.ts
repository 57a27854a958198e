/**
 * Machine authentication for machine-facing endpoints (the core's and
 * extensions'): `Authorization: Bearer <machine session token>` from an
 * approved or attested machine. A request that also carries
 * `X-EK-Fingerprint` must name the same machine.
 *
 * An operator token sent to a machine endpoint is told that the endpoint is
 * for the machine itself, and what operators use instead when the endpoint
 * declares it (OperatorAlternative.ts): still 401, since it is not a machine
 * credential.
 *
 * `ITL_MACHINE_AUTH=ek-fingerprint-header` additionally accepts the header
 * alone: the fingerprint is public, so anyone who knows it can act as the
 * machine. It exists only for clients built for that model.
 */
import { type HttpApi, HttpRouter, HttpServerRequest } from "@effect/platform"
import { Effect, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import { sqlDefect } from "../db/sqlDefect.js"
import { Unauthorized } from "../http/ApiError.js"
import type { MachineIdentity } from "./CurrentMachine.js"
import { MachineAuthentication } from "./MachineAuthentication.js"
import { OperatorTokens } from "../operators/OperatorTokens.js"
import { MachineSessions, type SessionMachine } from "./MachineSessions.js"
import { alternativeFor, operatorAlternatives } from "./OperatorAlternative.js"

const BEARER = /^Bearer\s+(\S+)\s*$/i
const ACTIVE = new Set(["approved", "attested"])

const admit = (row: SessionMachine, via: MachineIdentity["via"]) =>
  ACTIVE.has(row.status)
    ? Effect.succeed<MachineIdentity>({ id: row.id, ek_fingerprint: row.ek_fingerprint, hostname: row.hostname, status: row.status, via })
    : Effect.fail(new Unauthorized({ error: `machine_${row.status}`, message: `machine ${row.id} is ${row.status}` }))

/** The answer to an operator token on a machine endpoint. */
const operatorTokenRefused = (alternative: string | undefined) =>
  new Unauthorized({
    error: "machine_session_required",
    message:
      "this endpoint is called by a machine with its own session token (`attestation agent attest`, or POST /api/v1/attest), not an operator token" +
      (alternative === undefined ? "" : `; operators use ${alternative}`),
    ...(alternative === undefined ? {} : { details: { operator_alternative: alternative } })
  })

/** Machine authentication for the endpoints of `api` (whose declared operator alternatives it names). */
export const machineAuthenticationLayer = (api: HttpApi.HttpApi.Any) => Layer.effect(
  MachineAuthentication,
  Effect.gen(function* () {
    const sessions = yield* MachineSessions
    const operatorTokens = yield* OperatorTokens
    const config = yield* AppConfig
    const alternatives = operatorAlternatives(api)
    const headerMode = config.tpm.machineAuth === "ek-fingerprint-header"
    if (headerMode) {
      yield* Effect.logWarning(
        "ITL_MACHINE_AUTH=ek-fingerprint-header: machines are identified by the X-EK-Fingerprint header alone, which anyone who knows the (public) fingerprint can send; use only for legacy clients"
      )
    }
    return {
      machineSession: (_token: Redacted.Redacted<string>) =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const header = request.headers["authorization"]
          const fingerprint = request.headers["x-ek-fingerprint"]?.trim()
          if (header !== undefined) {
            const match = BEARER.exec(header)
            if (match === null) return yield* new Unauthorized({ message: "the Authorization header must be `Bearer <machine session token>`" })
            const row = Option.getOrUndefined(yield* sessions.lookup(match[1]!))
            if (row === undefined) {
              if (yield* operatorTokens.isOperatorToken(match[1]!)) {
                const route = yield* HttpRouter.RouteContext
                return yield* operatorTokenRefused(alternativeFor(alternatives, route.route.method, route.route.path))
              }
              return yield* new Unauthorized({ message: "invalid or expired machine session; attest again" })
            }
            if (fingerprint !== undefined && fingerprint !== row.ek_fingerprint) {
              return yield* new Unauthorized({ error: "fingerprint_mismatch", message: "X-EK-Fingerprint names another machine than the session" })
            }
            return yield* admit(row, "session")
          }
          if (headerMode && fingerprint !== undefined) {
            const row = Option.getOrUndefined(yield* sessions.lookupByFingerprint(fingerprint))
            if (row === undefined) return yield* new Unauthorized({ message: "no machine has this EK fingerprint" })
            return yield* admit(row, "ek-fingerprint-header")
          }
          return yield* new Unauthorized({ message: "missing machine credentials: send `Authorization: Bearer <machine session token>` (from POST /api/v1/attest)" })
        }).pipe(sqlDefect)
    }
  })
)
