/**
 * Per-endpoint authorization, declared on the endpoint and checked in
 * middleware before the request's path, query and body are decoded:
 *
 *     HttpApiEndpoint.post("approve", "/machines/:id/approve").middleware(requireScope(MachinesWrite))
 *
 * `requireScope(scope)` is a security middleware (one per scope name) that
 * authenticates the operator (bearer token or verified client certificate),
 * checks that the role has the scope and, for a scoped token, that the token
 * was given it, and provides `Authorized<scope>` with the identity. Serve an
 * API with `policyLayer(api, { owner })`, which implements every policy the
 * API declares and makes sure their scopes are registered.
 */
import { HttpApi, HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context, Effect, Layer, Schema } from "effect"
import { globalValue } from "effect/GlobalValue"
import { Forbidden, Unauthorized } from "../http/ApiError.js"
import { OperatorAuthenticator } from "../operators/Authentication.js"
import { authorized, type Authorized, type AuthorizedIdentity } from "./Authorized.js"
import { roleHasScope, type ScopeDefinition } from "./Scope.js"
import { type ScopeRegistrationError, ScopeRegistry } from "./ScopeRegistry.js"

const failure = Schema.Union(Unauthorized, Forbidden)

/** The middleware's identifier type; it provides `Authorized<Scope>`. */
export interface PolicyMiddleware<Scope extends string> {
  readonly [HttpApiMiddleware.TypeId]: {
    readonly provides: Authorized<Scope>
    readonly failure: Unauthorized | Forbidden
    readonly failureContext: never
  }
}

export const PolicyScopeId: unique symbol = Symbol.for("@itl-attestation/core/PolicyScope")

const makeTag = <Scope extends string>(scope: ScopeDefinition<Scope>) =>
  Object.assign(
    HttpApiMiddleware.Tag<PolicyMiddleware<Scope>>()(`@itl-attestation/core/Policy<${scope.name}>`, {
      failure,
      provides: authorized(scope),
      security: { bearer: HttpApiSecurity.bearer }
    }),
    { [PolicyScopeId]: scope }
  )

export type PolicyTag<Scope extends string> = ReturnType<typeof makeTag<Scope>>

const policies = globalValue("@itl-attestation/core/Policy/tags", () => new Map<string, PolicyTag<any>>())

/** The endpoint (or group) middleware that requires `scope`. */
export const requireScope = <const Scope extends string>(scope: ScopeDefinition<Scope>): PolicyTag<Scope> => {
  const existing = policies.get(scope.name)
  if (existing !== undefined) {
    const declared = existing[PolicyScopeId]
    if (declared.grantedTo !== scope.grantedTo) {
      throw new Error(`scope ${scope.name} is declared twice, granted to ${declared.grantedTo} and to ${scope.grantedTo}`)
    }
    return existing
  }
  const tag = makeTag(scope)
  policies.set(scope.name, tag)
  return tag
}

/** The scope a middleware tag requires, or undefined for other middleware. */
export const scopeOf = (tag: unknown): ScopeDefinition | undefined =>
  typeof tag === "function" && PolicyScopeId in tag ? (tag as unknown as PolicyTag<string>)[PolicyScopeId] : undefined

/** The scopes an endpoint requires, from its own, its group's and its API's middleware. */
export const requiredScopes = (middleware: Iterable<unknown>): ReadonlyArray<ScopeDefinition> => {
  const scopes: Array<ScopeDefinition> = []
  for (const tag of middleware) {
    const scope = scopeOf(tag)
    if (scope !== undefined && !scopes.some((s) => s.name === scope.name)) scopes.push(scope)
  }
  return scopes
}

const policyTagsOf = (api: HttpApi.HttpApi.Any): ReadonlyArray<PolicyTag<string>> => {
  const found = new Map<string, PolicyTag<string>>()
  const apiMiddlewares = (api as unknown as HttpApi.HttpApi.AnyWithProps).middlewares
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ middleware }) => {
      for (const tag of [...apiMiddlewares, ...middleware]) {
        const scope = scopeOf(tag)
        if (scope !== undefined) found.set(scope.name, tag as unknown as PolicyTag<string>)
      }
    }
  })
  return [...found.values()]
}

const forbidden = (identity: { name: string; role: string }, scope: ScopeDefinition, limited: boolean) =>
  new Forbidden({
    message: limited
      ? `this action needs the ${scope.name} scope; the token ${identity.name} is limited to other scopes`
      : `this action needs the ${scope.name} scope (role ${scope.grantedTo} or above); ${identity.name} has the ${identity.role} role`,
    details: { required_scope: scope.name }
  })

/**
 * Implements every policy `api` declares. `owner` (`core`, or the extension's
 * name) registers the scopes its endpoints declare that nobody registered yet;
 * a scope declared with another role than its registration fails the layer.
 */
export const policyLayer = (
  api: HttpApi.HttpApi.Any,
  options: { readonly owner: string }
): Layer.Layer<PolicyMiddleware<string>, ScopeRegistrationError, OperatorAuthenticator | ScopeRegistry> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const registry = yield* ScopeRegistry
      const authenticate = yield* OperatorAuthenticator
      const tags = policyTagsOf(api)
      yield* registry.ensure(options.owner, tags.map((tag) => tag[PolicyScopeId]))

      const check = (scope: ScopeDefinition) =>
        Effect.gen(function* () {
          const operator = yield* authenticate
          if (!roleHasScope(operator.role, scope)) return yield* forbidden(operator, scope, false)
          if (operator.scopes !== null && !operator.scopes.includes(scope.name)) return yield* forbidden(operator, scope, true)
          const ofRole = yield* registry.scopesOfRole(operator.role)
          const limit = operator.scopes
          return {
            name: operator.name,
            role: operator.role,
            via: operator.via,
            ...(operator.tokenId === undefined ? {} : { tokenId: operator.tokenId }),
            scopes: limit === null ? ofRole : ofRole.filter((s) => limit.includes(s))
          } satisfies AuthorizedIdentity
        })

      const services = new Map<string, unknown>()
      for (const tag of tags) {
        const scope = tag[PolicyScopeId]
        services.set(tag.key, { bearer: () => check(scope) })
      }
      return Context.unsafeMake(services) as Context.Context<PolicyMiddleware<string>>
    })
  )
