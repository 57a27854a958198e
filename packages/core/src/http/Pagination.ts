import { Schema } from "effect"

/** `?limit=&offset=` shared by every list endpoint. */
export const paginationParams = {
  limit: Schema.optionalWith(
    Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500, { message: () => "must be an integer from 1 to 500" })),
    { default: () => 50 }
  ),
  offset: Schema.optionalWith(
    Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative({ message: () => "must be a non-negative integer" })),
    { default: () => 0 }
  )
}
