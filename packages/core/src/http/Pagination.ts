import { Schema } from "effect"

export const DEFAULT_LIMIT = 50

/**
 * `?limit=&offset=` shared by every list endpoint. Optional in the schema (so
 * derived clients need not send them); `pageOf` applies the defaults.
 */
export const paginationParams = {
  limit: Schema.optional(
    Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500, { message: () => "must be an integer from 1 to 500" }))
  ),
  offset: Schema.optional(
    Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative({ message: () => "must be a non-negative integer" }))
  )
}

/** A page request after defaults: what the services take. */
export interface Page {
  readonly limit: number
  readonly offset: number
}

/** Just the page of `?limit=&offset=`. */
export const pageParams = Schema.Struct(paginationParams)

export const pageOf = <P extends { readonly limit?: number | undefined; readonly offset?: number | undefined }>(params: P) => ({
  ...params,
  limit: params.limit ?? DEFAULT_LIMIT,
  offset: params.offset ?? 0
})
