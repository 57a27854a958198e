/**
 * Every scope the running platform knows: the core's (registered at start)
 * and each loaded extension's. Token creation checks requested scopes against
 * it, and a role's scopes are read from it.
 */
import { Data, Effect, Option } from "effect"
import type { Role } from "../operators/Operator.js"
import { roleHasScope, SCOPE_NAME, type ScopeDefinition } from "./Scope.js"

export interface RegisteredScope extends ScopeDefinition {
  /** `core`, or the extension that declared it. */
  readonly owner: string
}

export class ScopeRegistrationError extends Data.TaggedError("ScopeRegistrationError")<{ readonly message: string }> {}

export class ScopeRegistry extends Effect.Service<ScopeRegistry>()("@itl-attestation/core/ScopeRegistry", {
  sync: () => {
    const scopes = new Map<string, RegisteredScope>()
    // Every authorized request asks for its role's scopes: kept sorted per role until the next change.
    let sorted: ReadonlyArray<RegisteredScope> | undefined
    const byRole = new Map<Role, ReadonlyArray<string>>()
    const changed = () => {
      sorted = undefined
      byRole.clear()
    }

    const malformed = (owner: string, scope: ScopeDefinition) =>
      !SCOPE_NAME.test(scope.name)
        ? `${owner}: scope name must be <area>:<action> in lower case: ${JSON.stringify(scope.name)}`
        : undefined

    /** Adds `owner`'s scopes, all or none: a malformed name or one already registered fails the whole call. */
    const register = (owner: string, declared: ReadonlyArray<ScopeDefinition>) =>
      Effect.suspend(() => {
        const seen = new Set<string>()
        for (const scope of declared) {
          const bad = malformed(owner, scope)
          if (bad !== undefined) return Effect.fail(new ScopeRegistrationError({ message: bad }))
          const existing = scopes.get(scope.name)
          if (existing !== undefined || seen.has(scope.name)) {
            const by = existing === undefined ? owner : existing.owner
            return Effect.fail(new ScopeRegistrationError({ message: `${owner}: scope ${scope.name} is already declared by ${by}` }))
          }
          seen.add(scope.name)
        }
        for (const scope of declared) scopes.set(scope.name, { ...scope, owner })
        changed()
        return Effect.void
      })

    /**
     * Makes sure the scopes an API's endpoints declare are known: registers
     * those nobody declared yet under `owner`, accepts those declared the same
     * way (an extension's endpoint may require a core scope), and fails on a
     * scope that another declaration grants to another role.
     */
    const ensure = (owner: string, declared: ReadonlyArray<ScopeDefinition>) =>
      Effect.suspend(() => {
        const missing: Array<ScopeDefinition> = []
        for (const scope of declared) {
          const existing = scopes.get(scope.name)
          if (existing === undefined) {
            if (!missing.some((m) => m.name === scope.name)) missing.push(scope)
          } else if (existing.grantedTo !== scope.grantedTo) {
            return Effect.fail(
              new ScopeRegistrationError({
                message: `${owner}: scope ${scope.name} is granted to ${scope.grantedTo} here, but ${existing.owner} declared it granted to ${existing.grantedTo}`
              })
            )
          }
        }
        return register(owner, missing)
      })

    const sortedScopes = () => (sorted ??= [...scopes.values()].sort((a, b) => a.name.localeCompare(b.name)))

    const list = Effect.sync(sortedScopes)

    const lookup = (name: string) => Effect.sync(() => Option.fromNullable(scopes.get(name)))

    /** The names of every scope the role has, sorted. */
    const scopesOfRole = (role: Role) =>
      Effect.sync(() => {
        let names = byRole.get(role)
        if (names === undefined) {
          names = sortedScopes().filter((scope) => roleHasScope(role, scope)).map((scope) => scope.name)
          byRole.set(role, names)
        }
        return names
      })

    /** Takes back every scope `owner` registered (an extension that failed to load). */
    const unregister = (owner: string) =>
      Effect.sync(() => {
        for (const [name, scope] of scopes) if (scope.owner === owner) scopes.delete(name)
        changed()
      })

    return { register, ensure, unregister, list, lookup, scopesOfRole } as const
  }
}) {}
