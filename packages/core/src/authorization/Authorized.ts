/**
 * Proof that the current request's operator holds a scope. A service
 * operation that needs `machines:write` reads its actor with
 * `yield* authorized(MachinesWrite)`, which puts `Authorized<"machines:write">`
 * in the operation's requirements; only the endpoint policy
 * `requireScope(MachinesWrite)` provides it (after authenticating and
 * checking the scope), so a handler on an endpoint that does not declare the
 * policy leaves the requirement open and does not compile.
 */
import { Context } from "effect"
import { globalValue } from "effect/GlobalValue"
import type { OperatorIdentity } from "../operators/Operator.js"
import type { ScopeDefinition } from "./Scope.js"

export const AuthorizedTypeId: unique symbol = Symbol.for("@itl-attestation/core/Authorized")
export type AuthorizedTypeId = typeof AuthorizedTypeId

/** The requirement a scope's policy satisfies; the scope lives only in the type. */
export interface Authorized<Scope extends string> {
  readonly [AuthorizedTypeId]: { readonly scope: Scope }
}

/** Who is acting, for the audit actor, `created_by`, `approved_by`, …. */
export interface AuthorizedIdentity {
  /** The token's name or the client certificate's subject DN. */
  readonly name: string
  readonly role: OperatorIdentity["role"]
  readonly via: OperatorIdentity["via"]
  readonly tokenId?: string
  /** Every scope this credential has: its role's, limited to the token's scopes when it has any. */
  readonly scopes: ReadonlyArray<string>
}

const tags = globalValue("@itl-attestation/core/Authorized/tags", () => new Map<string, Context.Tag<any, AuthorizedIdentity>>())

/** The tag of a scope's proof (one per scope name). Yield it in a service to require the scope and get the actor. */
export const authorized = <const Scope extends string>(scope: ScopeDefinition<Scope>): Context.Tag<Authorized<Scope>, AuthorizedIdentity> => {
  let tag = tags.get(scope.name)
  if (tag === undefined) {
    tag = Context.GenericTag<Authorized<Scope>, AuthorizedIdentity>(`@itl-attestation/core/Authorized<${scope.name}>`)
    tags.set(scope.name, tag)
  }
  return tag
}

/** The audit actor of an authorized operator. */
export const actorOf = (identity: { readonly name: string }) => ({ name: identity.name, kind: "operator" as const })
