/**
 * Unknown fields in a request body are an error (400 naming them), as the
 * OpenAPI document's `additionalProperties: false` promises: a misspelt
 * optional field must not be dropped silently.
 *
 * Applied to a whole HttpApi definition (`strictPayloads(HttpApi.make(…)…)`),
 * so every payload of every group follows it, by annotating each payload
 * schema with the parse option `onExcessProperty: "error"`; the option reaches
 * nested structs too. Records (free-form maps such as `hardware`) are not
 * affected; records with refined keys become strict about their keys.
 *
 * It must wrap the definition the handlers are built from
 * (`HttpApiBuilder.group(Api, …)` decodes with that definition's schemas).
 */
import type { HttpApi, HttpApiGroup } from "@effect/platform"

const strict = { parseOptions: { onExcessProperty: "error" } } as const

const strictGroup = (group: HttpApiGroup.HttpApiGroup.AnyWithProps): HttpApiGroup.HttpApiGroup.AnyWithProps => {
  let result = group
  for (const endpoint of Object.values(group.endpoints)) {
    if (endpoint.payloadSchema._tag === "Some") {
      // `add` with the same name replaces the endpoint; everything else about the group stays.
      result = result.add(endpoint.setPayload(endpoint.payloadSchema.value.annotations(strict)))
    }
  }
  return result
}

export const strictPayloads = <Api extends HttpApi.HttpApi.Any>(api: Api): Api => {
  let result = api as unknown as HttpApi.HttpApi.AnyWithProps
  // Likewise `add` with the same identifier replaces the group in place.
  for (const group of Object.values(result.groups)) result = result.add(strictGroup(group))
  return result as unknown as Api
}
