/**
 * Authorization for the services used as a library, without HTTP. An
 * application's own Effect program names who it acts as and which scopes the
 * work needs; the same role check as an endpoint's policy runs (Forbidden
 * when the role lacks a scope), and the proofs the service operations require
 * are provided — so a program that calls an operation without stating its
 * scope does not compile, exactly like a handler.
 *
 * ```ts
 * machines.approve(id).pipe(actingAs({ name: "inventory-sync", role: "operator" }, MachinesWrite))
 * ```
 */
import { Context, Effect } from "effect"
import { Forbidden } from "../http/ApiError.js"
import type { Role } from "../operators/Operator.js"
import { type Authorized, authorized, type AuthorizedIdentity } from "./Authorized.js"
import { roleHasScope, type ScopeDefinition } from "./Scope.js"

export interface Principal {
  /** Recorded as the actor of the audit rows (`approved_by`, `created_by`, …): name the program or its operator. */
  readonly name: string
  readonly role: Role
}

export const actingAs =
  <const Scopes extends ReadonlyArray<ScopeDefinition>>(principal: Principal, ...scopes: Scopes) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | Forbidden, Exclude<R, Authorized<Scopes[number]["name"]>>> =>
    Effect.suspend((): Effect.Effect<A, E | Forbidden, Exclude<R, Authorized<Scopes[number]["name"]>>> => {
      const missing = scopes.find((scope) => !roleHasScope(principal.role, scope))
      if (missing !== undefined) {
        return Effect.fail(
          new Forbidden({
            message: `this action needs the ${missing.name} scope (role ${missing.grantedTo} or above); ${principal.name} has the ${principal.role} role`,
            details: { required_scope: missing.name }
          })
        )
      }
      const identity: AuthorizedIdentity = { name: principal.name, role: principal.role, via: "token", scopes: scopes.map((s) => s.name) }
      let proofs = Context.empty()
      for (const scope of scopes) proofs = Context.add(proofs, authorized(scope), identity)
      return Effect.provide(effect, proofs as Context.Context<Authorized<Scopes[number]["name"]>>)
    })
