/**
 * Operator authentication and authorization, both in middleware, so they run
 * before the request's path, query and body are decoded: a caller without the
 * role learns nothing about an endpoint's validation rules.
 *
 * Credentials: `Authorization: Bearer <token>`, or, when the host terminates
 * mTLS, the subject DN of a verified client certificate.
 *
 * The role an endpoint needs is declared on the endpoint with one of
 * `RequireViewer`, `RequireOperator`, `RequireAdmin` (see `requiredRole`);
 * each authenticates, checks the role and provides `CurrentOperator`, so an
 * endpoint without one cannot reach a service that needs an operator. The
 * services check the role again (defence in depth).
 *
 * `Authentication` (the group-level tag extensions already use) authenticates
 * and, when no `Require*` tag on the endpoint has decided, applies a default
 * by method: GET/HEAD need `viewer`, every other method `operator`.
 */
import { type HttpApiEndpoint, HttpApiMiddleware, HttpApiSecurity, HttpServerRequest } from "@effect/platform"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import { Forbidden, Unauthorized } from "../http/ApiError.js"
import { CurrentOperator, type OperatorIdentity, type Role, roleAtLeast } from "./Operator.js"
import { OperatorTokens } from "./OperatorTokens.js"

/**
 * How the host tells the core about a verified TLS client certificate. The
 * default knows none; host-node reads the socket's peer certificate.
 */
export class ClientCertificateSubject extends Context.Reference<ClientCertificateSubject>()(
  "@itl-attestation/core/ClientCertificateSubject",
  { defaultValue: () => (_request: HttpServerRequest.HttpServerRequest): Option.Option<string> => Option.none() }
) {}

const failure = Schema.Union(Unauthorized, Forbidden)
const security = { bearer: HttpApiSecurity.bearer }

export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("Authentication", {
  failure,
  provides: CurrentOperator,
  security
}) {}

/** Any operator (viewer and up). */
export class RequireViewer extends HttpApiMiddleware.Tag<RequireViewer>()("RequireViewer", { failure, provides: CurrentOperator, security }) {}

/** Operators and admins. */
export class RequireOperator extends HttpApiMiddleware.Tag<RequireOperator>()("RequireOperator", { failure, provides: CurrentOperator, security }) {}

/** Admins only. */
export class RequireAdmin extends HttpApiMiddleware.Tag<RequireAdmin>()("RequireAdmin", { failure, provides: CurrentOperator, security }) {}

const declaredRoles: ReadonlyArray<readonly [unknown, Role]> = [
  [RequireAdmin, "admin"],
  [RequireOperator, "operator"],
  [RequireViewer, "viewer"]
]

const defaultRole = (method: string): Role => (method === "GET" || method === "HEAD" ? "viewer" : "operator")

/**
 * The role an operator endpoint needs, from its (or its group's) middleware:
 * a `Require*` tag, or the method default under `Authentication`. `undefined`
 * for endpoints that take no operator credentials (machines, public).
 */
export const requiredRole = (
  endpoint: HttpApiEndpoint.HttpApiEndpoint.AnyWithProps,
  groupMiddlewares: ReadonlySet<unknown> = new Set()
): Role | undefined => {
  const all = new Set<unknown>([...groupMiddlewares, ...endpoint.middlewares])
  for (const [tag, role] of declaredRoles) if (all.has(tag)) return role
  return all.has(Authentication) ? defaultRole(endpoint.method) : undefined
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

const forbidden = (operator: OperatorIdentity, required: Role) =>
  new Forbidden({ message: `this action needs the ${required} role; ${operator.name} has ${operator.role}` })

/** Authentication plus every role tag: provide this wherever operator endpoints are served. */
export const AuthenticationLive = Layer.effectContext(
  Effect.gen(function* () {
    const tokens = yield* OperatorTokens
    const config = yield* AppConfig
    const subjectOf = yield* ClientCertificateSubject

    // The security decoder hands over whatever follows "Bearer "; read the raw
    // header ourselves so that other schemes are refused, not mis-sliced.
    const authenticate = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const header = request.headers["authorization"]
      if (header !== undefined) {
        const match = BEARER.exec(header)
        if (match === null) return yield* new Unauthorized({ message: "the Authorization header must be `Bearer <token>`" })
        return yield* tokens.authenticate(match[1]!)
      }
      const subject = subjectOf(request)
      if (Option.isSome(subject)) {
        return { name: subject.value, role: config.tlsClientRole, via: "mtls" } satisfies OperatorIdentity
      }
      return yield* new Unauthorized({ message: "missing operator credentials: send `Authorization: Bearer <token>`" })
    })

    const requiring = (required: Role) =>
      Effect.flatMap(authenticate, (operator) =>
        roleAtLeast(operator.role, required) ? Effect.succeed(operator) : Effect.fail(forbidden(operator, required))
      )

    // A `Require*` tag on the endpoint runs first (endpoint middleware wraps
    // group middleware) and has provided the identity: use it as it is.
    const groupDefault = Effect.flatMap(Effect.serviceOption(CurrentOperator), (already) =>
      Option.isSome(already)
        ? Effect.succeed(already.value)
        : Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => requiring(defaultRole(request.method)))
    )

    const bearer = (check: Effect.Effect<OperatorIdentity, Unauthorized | Forbidden, HttpServerRequest.HttpServerRequest>) => ({
      bearer: (_token: Redacted.Redacted<string>) => check
    })
    return Context.empty().pipe(
      Context.add(Authentication, bearer(groupDefault)),
      Context.add(RequireViewer, bearer(requiring("viewer"))),
      Context.add(RequireOperator, bearer(requiring("operator"))),
      Context.add(RequireAdmin, bearer(requiring("admin")))
    )
  })
)
