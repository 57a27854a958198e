/**
 * Writes the role each operator endpoint needs into the OpenAPI document as
 * `x-required-role` on its operation, so readers (and the authorization
 * matrix test) see it next to the operation. The value comes from the same
 * declaration the middleware enforces (`requiredRole`).
 */
import { HttpApi, type OpenApi } from "@effect/platform"
import { requiredRole } from "../operators/Authentication.js"

export const withRequiredRoles = (spec: OpenApi.OpenAPISpec, api: HttpApi.HttpApi.Any): OpenApi.OpenAPISpec => {
  const paths = spec.paths as Record<string, Record<string, Record<string, unknown>>>
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, middleware }) => {
      const role = requiredRole(endpoint as any, middleware)
      const operation = paths[endpoint.path.replace(/:(\w+)\??/g, "{$1}")]?.[endpoint.method.toLowerCase()]
      if (role !== undefined && operation !== undefined) operation["x-required-role"] = role
    }
  })
  return spec
}
