/**
 * The `prefix` option of AttestationApp: every route of the platform (core,
 * extensions, `/openapi.json`, `/docs`) is served under one path, so that an
 * application can mount the platform beside its own routes.
 *
 * It works by handing the whole app a prefixed view of the router
 * (`HttpLayerRouter.HttpRouter.prefixed`): whatever registers routes through
 * the router — the core, any extension — is prefixed without knowing it. The
 * router strips the prefix again before the handler runs.
 */
import { HttpLayerRouter } from "@effect/platform"
import { Context, Data, Effect, Either, Layer } from "effect"

export class InvalidPrefix extends Data.TaggedError("InvalidPrefix")<{ readonly message: string }> {}

/**
 * `""` (no prefix) or `/segment[/segment…]`: no trailing slash, and only
 * characters that stand for themselves in a path (the router would read `:`
 * and `*` as parameters; `?`, `#`, `%` and spaces are not part of a path).
 */
export const normalizePrefix = (prefix: string | undefined): Either.Either<string, InvalidPrefix> => {
  if (prefix === undefined || prefix === "" || prefix === "/") return Either.right("")
  const trimmed = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix
  return /^(\/[A-Za-z0-9._~-]+)+$/.test(trimmed)
    ? Either.right(trimmed)
    : Either.left(
        new InvalidPrefix({
          message: `prefix ${JSON.stringify(prefix)}: must be "/" followed by path segments of letters, digits and . _ ~ - (e.g. "/attestation")`
        })
      )
}

/** The app's routes registered under `prefix` (already normalized; "" leaves the app as it is). */
export const mountedUnder =
  (prefix: string) =>
  <A, E, R>(app: Layer.Layer<A, E, R>): Layer.Layer<A, E, R | HttpLayerRouter.HttpRouter> =>
    prefix === ""
      ? app
      : app.pipe(
          Layer.provide(
            Layer.effect(
              HttpLayerRouter.HttpRouter,
              Effect.map(HttpLayerRouter.HttpRouter, (router) => router.prefixed(prefix))
            )
          )
        )

/** The prefix the app is mounted under ("" for none), for what must describe the served paths (`/openapi.json`, `/docs`). */
export class MountPrefix extends Context.Reference<MountPrefix>()("@itl-attestation/core/MountPrefix", {
  defaultValue: () => ""
}) {}
