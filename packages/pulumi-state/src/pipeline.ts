/**
 * The Pulumi API's request pipeline: gzip bodies (the CLI compresses
 * checkpoints, imports, events and batch secrets), a body limit for large
 * states, and `{code, message}` for every failure the pipeline itself
 * answers (oversized or corrupt bodies, malformed JSON, unexpected errors).
 */
import { HttpApiError } from "@effect/platform"
import type { ApiPipelineOptions } from "@itl-attestation/core"
import { Schema } from "effect"
import { errorResponse } from "./PulumiError.js"

/**
 * 256 MiB after decompression. The body is held in memory as bytes and once
 * as a string; a string cannot pass V8's ~512 M character limit, so 512 MiB
 * would fail with a crash rather than a 413.
 */
export const MAX_BODY_BYTES = 256 * 1024 * 1024

const DecodeErrorBody = Schema.Struct({ code: Schema.Literal(400), message: Schema.String })

/** A request that does not match the declared path: `{code: 400, message}` naming the field. */
export const PulumiDecodeError = Schema.transform(DecodeErrorBody, Schema.instanceOf(HttpApiError.HttpApiDecodeError), {
  strict: true,
  decode: (body) => new HttpApiError.HttpApiDecodeError({ issues: [], message: body.message }),
  encode: (error) => {
    const first = error.issues[0]
    const message = first === undefined ? error.message : `${first.path.map(String).join(".")}: ${first.message}`.slice(0, 300)
    return { code: 400 as const, message }
  }
}).annotations({ identifier: "PulumiDecodeError" })

export const pulumiPipeline: ApiPipelineOptions = {
  gzip: true,
  maxBodyBytes: MAX_BODY_BYTES,
  // Field checks are the handlers' (they name the field); the pipeline must not refuse fields the CLI adds later.
  rejectUnknownFields: false,
  renderProblem: (problem) => errorResponse(problem.status, problem.message),
  decodeErrors: PulumiDecodeError,
  challenge: undefined
}
