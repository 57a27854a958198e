/**
 * Who the operator of a request is. Credentials: `Authorization: Bearer
 * <token>`, or, when the host terminates mTLS, the subject DN of a verified
 * client certificate. What the operator may do is decided by the endpoint's
 * policy (authorization/Policy.ts), which calls this first.
 */
import { HttpServerRequest } from "@effect/platform"
import { Context, Effect, Layer, Option } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import { Unauthorized } from "../http/ApiError.js"
import type { OperatorIdentity } from "./Operator.js"
import { OperatorTokens } from "./OperatorTokens.js"

/**
 * How the host tells the core about a verified TLS client certificate. The
 * default knows none; host-node reads the socket's peer certificate.
 */
export class ClientCertificateSubject extends Context.Reference<ClientCertificateSubject>()(
  "@itl-attestation/core/ClientCertificateSubject",
  { defaultValue: () => (_request: HttpServerRequest.HttpServerRequest): Option.Option<string> => Option.none() }
) {}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** Authenticates the current request's operator (401 when it cannot). */
export class OperatorAuthenticator extends Context.Tag("@itl-attestation/core/OperatorAuthenticator")<
  OperatorAuthenticator,
  Effect.Effect<OperatorIdentity, Unauthorized, HttpServerRequest.HttpServerRequest>
>() {}

export const OperatorAuthenticatorLive = Layer.effect(
  OperatorAuthenticator,
  Effect.gen(function* () {
    const tokens = yield* OperatorTokens
    const config = yield* AppConfig
    const subjectOf = yield* ClientCertificateSubject

    // The security decoder hands over whatever follows "Bearer "; read the raw
    // header ourselves so that other schemes are refused, not mis-sliced.
    return Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const header = request.headers["authorization"]
      if (header !== undefined) {
        const match = BEARER.exec(header)
        if (match === null) return yield* new Unauthorized({ message: "the Authorization header must be `Bearer <token>`" })
        return yield* tokens.authenticate(match[1]!)
      }
      const subject = subjectOf(request)
      if (Option.isSome(subject)) {
        return { name: subject.value, role: config.tlsClientRole, via: "mtls", scopes: null } satisfies OperatorIdentity
      }
      return yield* new Unauthorized({ message: "missing operator credentials: send `Authorization: Bearer <token>`" })
    })
  })
)
