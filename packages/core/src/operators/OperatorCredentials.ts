/**
 * A narrow view of operator tokens for extensions whose clients cannot send
 * `Authorization: Bearer` (a protocol of their own, e.g. `token <t>`): the
 * extension extracts the token from its own header and asks who it is. The
 * answer holds the token's id and name and the scopes it may use (its role's,
 * narrowed to the token's own list); never the token or its hash.
 */
import { Effect, Option } from "effect"
import { ScopeRegistry } from "../authorization/ScopeRegistry.js"
import type { Role } from "./Operator.js"
import { OperatorTokens } from "./OperatorTokens.js"

export interface VerifiedOperatorToken {
  readonly tokenId: string
  /** The token's name: record it as the actor of changes. */
  readonly name: string
  readonly role: Role
  /** Every scope this token may use. */
  readonly scopes: ReadonlyArray<string>
}

export class OperatorCredentials extends Effect.Service<OperatorCredentials>()("@itl-attestation/core/OperatorCredentials", {
  effect: Effect.gen(function* () {
    const tokens = yield* OperatorTokens
    const registry = yield* ScopeRegistry
    /** None for an unknown or revoked token. */
    const verify = (token: string): Effect.Effect<Option.Option<VerifiedOperatorToken>> =>
      tokens.authenticate(token).pipe(
        Effect.flatMap((operator) =>
          Effect.map(registry.scopesOfRole(operator.role), (ofRole) =>
            Option.some<VerifiedOperatorToken>({
              tokenId: operator.tokenId!,
              name: operator.name,
              role: operator.role,
              scopes: operator.scopes === null ? ofRole : ofRole.filter((scope) => operator.scopes!.includes(scope))
            })
          )
        ),
        Effect.catchTag("Unauthorized", () => Effect.succeed(Option.none()))
      )
    return { verify } as const
  })
}) {}
