/**
 * What an operator uses instead of a machine endpoint. Machine endpoints are
 * called by a machine with its own session token; an operator who calls one
 * with an operator token is told so, and shown this, declared where the
 * endpoint is (the endpoint or its group, so extensions state their own):
 *
 *     HttpApiEndpoint.get("me", "/machines/me")
 *       .annotate(OperatorAlternative, "GET /api/v1/machines/{id} (`attestation machine get <id>`)")
 */
import { HttpApi } from "@effect/platform"
import { Context, Option } from "effect"

export class OperatorAlternative extends Context.Tag("@itl-attestation/core/OperatorAlternative")<OperatorAlternative, string>() {}

export interface RouteAlternative {
  readonly method: string
  readonly path: string
  readonly alternative: string
}

/** Every endpoint of `api` that declares an alternative (its own, else its group's). */
export const operatorAlternatives = (api: HttpApi.HttpApi.Any): ReadonlyArray<RouteAlternative> => {
  const found: Array<RouteAlternative> = []
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, mergedAnnotations }) => {
      const alternative = Context.getOption(mergedAnnotations, OperatorAlternative)
      if (Option.isSome(alternative)) found.push({ method: endpoint.method, path: endpoint.path, alternative: alternative.value })
    }
  })
  return found
}

/**
 * The alternative for the route being served. An app mounted under a prefix
 * serves `/prefix/api/v1/…`, so a declared path also matches as the route's tail.
 */
export const alternativeFor = (alternatives: ReadonlyArray<RouteAlternative>, method: string, routePath: string): string | undefined =>
  (alternatives.find((a) => a.method === method && a.path === routePath) ??
    alternatives.find((a) => a.method === method && routePath.endsWith(a.path)))?.alternative
