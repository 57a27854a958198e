/**
 * Writes each operation's authorization into the OpenAPI document, from the
 * same declarations the middleware enforces, so readers (and the generated
 * authorization matrix test) see it next to the operation:
 *
 * - `x-credential`: `operator` (bearer token or client certificate, checked by
 *   a scope policy), `machine` (a machine session, MachineAuthentication) or
 *   `none`;
 * - `x-required-scope`: for operator operations, the scope the policy
 *   requires (an array when an endpoint declares several);
 * - `x-machine-owner` (machine operations that address one machine's
 *   resources): the path parameter naming the machine and the status another
 *   machine's session gets (authorization/MachineOwner.ts);
 * - `x-operator-alternative` (machine operations that declare one): what an
 *   operator uses instead (sessions/OperatorAlternative.ts);
 * - at the top, `x-scopes`: every scope an operation requires, with its
 *   description and the lowest role that has it (`granted_to`).
 */
import { HttpApi, type OpenApi } from "@effect/platform"
import { Context, Option } from "effect"
import { MachineOwner } from "../authorization/MachineOwner.js"
import { requiredScopes } from "../authorization/Policy.js"
import type { ScopeDefinition } from "../authorization/Scope.js"
import { MachineAuthentication } from "../sessions/MachineAuthentication.js"
import { OperatorAlternative } from "../sessions/OperatorAlternative.js"

export const withPolicies = (spec: OpenApi.OpenAPISpec, api: HttpApi.HttpApi.Any): OpenApi.OpenAPISpec => {
  const paths = spec.paths as Record<string, Record<string, Record<string, unknown>>>
  const declared = new Map<string, ScopeDefinition>()
  const apiMiddlewares = (api as unknown as HttpApi.HttpApi.AnyWithProps).middlewares
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, middleware, mergedAnnotations }) => {
      const operation = paths[endpoint.path.replace(/:(\w+)\??/g, "{$1}")]?.[endpoint.method.toLowerCase()]
      if (operation === undefined) return
      const all = [...apiMiddlewares, ...middleware]
      const scopes = requiredScopes(all)
      if (scopes.length > 0) {
        operation["x-credential"] = "operator"
        operation["x-required-scope"] = scopes.length === 1 ? scopes[0]!.name : scopes.map((s) => s.name)
        for (const scope of scopes) declared.set(scope.name, scope)
      } else {
        const machine = (all as ReadonlyArray<unknown>).includes(MachineAuthentication)
        operation["x-credential"] = machine ? "machine" : "none"
        const owner = Context.getOption(mergedAnnotations, MachineOwner)
        if (machine && Option.isSome(owner)) {
          operation["x-machine-owner"] = { parameter: owner.value.parameter, other_machine_status: owner.value.otherMachine }
        }
        const alternative = Context.getOption(mergedAnnotations, OperatorAlternative)
        if (machine && Option.isSome(alternative)) operation["x-operator-alternative"] = alternative.value
      }
    }
  })
  const scopes = [...declared.values()].sort((a, b) => a.name.localeCompare(b.name))
  ;(spec as unknown as Record<string, unknown>)["x-scopes"] = scopes.map((s) => ({ name: s.name, description: s.description, granted_to: s.grantedTo }))
  return spec
}
