/**
 * The error vocabulary of every HTTP API in the platform.
 *
 * Every non-2xx body is `{error, message, details?}`. The `_tag` that Effect's
 * schema adds is kept so that clients derived from the HttpApi definitions can
 * decode the error back into its class.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

const errorFields = (defaultCode: string) => ({
  error: Schema.String.pipe(
    Schema.propertySignature,
    Schema.withConstructorDefault(() => defaultCode)
  ),
  message: Schema.String,
  details: Schema.optional(Schema.Unknown)
})

export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  errorFields("bad_request"),
  HttpApiSchema.annotations({ status: 400 })
) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  errorFields("unauthorized"),
  HttpApiSchema.annotations({ status: 401 })
) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  errorFields("forbidden"),
  HttpApiSchema.annotations({ status: 403 })
) {}

export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  errorFields("not_found"),
  HttpApiSchema.annotations({ status: 404 })
) {}

export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  errorFields("conflict"),
  HttpApiSchema.annotations({ status: 409 })
) {}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  errorFields("payload_too_large"),
  HttpApiSchema.annotations({ status: 413 })
) {}

export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()(
  "TooManyRequests",
  errorFields("too_many_requests"),
  HttpApiSchema.annotations({ status: 429 })
) {}

export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()(
  "ServiceUnavailable",
  errorFields("service_unavailable"),
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Body shape shared by all errors, for responses built outside HttpApi (404, 413, 500). */
export const errorBody = (error: string, message: string, details?: unknown) =>
  details === undefined ? { error, message } : { error, message, details }
