/** ScopeRegistry and defineScope through the exported library API (no database, no server). */
import { it } from "@effect/vitest"
import { coreScopes, defineScope, ScopeRegistry } from "@itl-attestation/core"
import { Effect, Either, Option } from "effect"
import { describe, expect } from "vitest"

const registry = Effect.provide(ScopeRegistry, ScopeRegistry.Default)

describe("ScopeRegistry", () => {
  it.effect("maps roles to scopes: each role has its own and those of the roles below", () =>
    Effect.gen(function* () {
      const scopes = yield* registry
      yield* scopes.register("core", coreScopes)
      const viewer = yield* scopes.scopesOfRole("viewer")
      const operator = yield* scopes.scopesOfRole("operator")
      const admin = yield* scopes.scopesOfRole("admin")
      expect(viewer).toEqual(["audit:read", "events:read", "machines:read"])
      expect(operator).toEqual(["audit:read", "events:read", "events:write", "machines:read", "machines:write"])
      expect(admin).toEqual(coreScopes.map((s) => s.name).sort())
      expect(Option.getOrThrow(yield* scopes.lookup("machines:write"))).toMatchObject({ owner: "core", grantedTo: "operator" })
    })
  )

  it.effect("a role's scopes follow registrations and unregistrations made after they were read", () =>
    Effect.gen(function* () {
      const scopes = yield* registry
      yield* scopes.register("core", coreScopes)
      expect(yield* scopes.scopesOfRole("viewer")).toEqual(["audit:read", "events:read", "machines:read"])
      yield* scopes.register("inventory", [defineScope({ name: "inventory:read", description: "r", grantedTo: "viewer" })])
      expect(yield* scopes.scopesOfRole("viewer")).toEqual(["audit:read", "events:read", "inventory:read", "machines:read"])
      expect((yield* scopes.list).map((s) => s.name)).toContain("inventory:read")
      yield* scopes.unregister("inventory")
      expect(yield* scopes.scopesOfRole("viewer")).toEqual(["audit:read", "events:read", "machines:read"])
      expect((yield* scopes.list).map((s) => s.name)).not.toContain("inventory:read")
    })
  )

  it.effect("refuses a duplicate (another owner's or within one call) and a malformed name, registering none of the call", () =>
    Effect.gen(function* () {
      const scopes = yield* registry
      yield* scopes.register("core", coreScopes)
      const stolen = yield* Effect.either(
        scopes.register("webhooks", [defineScope({ name: "webhooks:write", description: "w", grantedTo: "operator" }), coreScopes[0]])
      )
      expect(Either.isLeft(stolen) && stolen.left.message).toBe("webhooks: scope machines:read is already declared by core")
      expect(Option.isNone(yield* scopes.lookup("webhooks:write"))).toBe(true)
      const twice = yield* Effect.either(
        scopes.register("x", [
          defineScope({ name: "x:a", description: "a", grantedTo: "viewer" }),
          defineScope({ name: "x:a", description: "a", grantedTo: "viewer" })
        ])
      )
      expect(Either.isLeft(twice) && twice.left.message).toBe("x: scope x:a is already declared by x")
      // defineScope throws at declaration; a value built by hand is refused at registration.
      const malformed = yield* Effect.either(scopes.register("x", [{ name: "Write", description: "?", grantedTo: "viewer" }]))
      expect(Either.isLeft(malformed) && malformed.left.message).toBe('x: scope name must be <area>:<action> in lower case: "Write"')
    })
  )

  it.effect("ensure accepts a scope declared the same way and refuses one granted to another role", () =>
    Effect.gen(function* () {
      const scopes = yield* registry
      yield* scopes.register("core", coreScopes)
      yield* scopes.ensure("notes", [coreScopes[0], defineScope({ name: "notes:write", description: "n", grantedTo: "operator" })])
      expect(Option.getOrThrow(yield* scopes.lookup("notes:write")).owner).toBe("notes")
      expect(Option.getOrThrow(yield* scopes.lookup("machines:read")).owner).toBe("core")
      const weaker = yield* Effect.either(scopes.ensure("evil", [{ name: "machines:admin", description: "", grantedTo: "viewer" }]))
      expect(Either.isLeft(weaker) && weaker.left.message).toBe(
        "evil: scope machines:admin is granted to viewer here, but core declared it granted to admin"
      )
    })
  )

  it("defineScope refuses names that are not <area>:<action>", () => {
    for (const name of ["machines", "Machines:read", "machines:", ":read", "machines:read ", "a:b:c:d:e"]) {
      expect(() => defineScope({ name, description: "", grantedTo: "viewer" })).toThrow(/<area>:<action>/)
    }
    expect(defineScope({ name: "pulumi:stacks:write", description: "", grantedTo: "operator" }).name).toBe("pulumi:stacks:write")
  })
})
