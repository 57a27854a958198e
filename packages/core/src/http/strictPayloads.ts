/**
 * Unknown fields in a request body are an error (400 naming them), as the
 * OpenAPI document's `additionalProperties: false` promises: a misspelt
 * optional field must not be dropped silently.
 *
 * Applied to a whole HttpApi, so every payload of every group follows it
 * (including endpoints defined elsewhere), by annotating each payload schema
 * with the parse option `onExcessProperty: "error"`; the option reaches
 * nested structs too. Records (free-form maps such as `hardware`) are not
 * affected; records with refined keys become strict about their keys.
 */
import type { HttpApi } from "@effect/platform"

const strict = { parseOptions: { onExcessProperty: "error" } } as const

export const strictPayloads = <Api extends HttpApi.HttpApi.Any>(api: Api): Api => {
  const any = api as unknown as HttpApi.HttpApi.AnyWithProps
  let result = any
  for (const group of Object.values(any.groups)) {
    let strictGroup = group
    for (const endpoint of Object.values(group.endpoints)) {
      if (endpoint.payloadSchema._tag === "Some") {
        // `add` with the same name replaces the endpoint; everything else about the group stays.
        strictGroup = strictGroup.add(endpoint.setPayload(endpoint.payloadSchema.value.annotations(strict) as any) as any) as any
      }
    }
    // Likewise `add` with the same identifier replaces the group in place.
    result = result.add(strictGroup as any) as any
  }
  return result as unknown as Api
}
