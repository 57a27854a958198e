/**
 * How an API answers a request that does not match its schemas (path, query,
 * headers, body). The platform fails such a request with `HttpApiDecodeError`
 * and encodes it with whatever schema the API declares for it; each API's
 * pipeline declares its own (`replaceDecodeErrors`), so the format is decided
 * once, by schema, and documented in the OpenAPI document — nothing re-reads
 * a serialized response.
 */
import { type HttpApi, HttpApiError, HttpApiSchema } from "@effect/platform"
import { Schema, SchemaAST } from "effect"

/**
 * Issues quote the value they refused; a large input would make a larger
 * error. Each message is cut to MAX_ISSUE_MESSAGE characters and at most
 * MAX_ISSUES issues are returned, so a 400 body stays well under 8 KiB.
 */
const MAX_ISSUES = 10
const MAX_ISSUE_MESSAGE = 300
const MAX_PATH_SEGMENTS = 40

type Issue = typeof HttpApiError.Issue.Type

const truncate = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`)

const capIssue = (issue: Issue): Issue => ({
  ...issue,
  path: issue.path.slice(0, MAX_PATH_SEGMENTS).map((segment) => (typeof segment === "string" ? truncate(segment, 64) : segment)),
  message: truncate(String(issue.message), MAX_ISSUE_MESSAGE)
})

const fieldOf = (issue: Issue) => issue.path.map(String).join(".")

/** `hostname: must be a hostname …` — the first issue names the field, the rest are in `issues`. */
const describe = (issues: ReadonlyArray<Issue>) => {
  const first = issues[0]
  if (first === undefined) return "invalid request"
  return first.path.length === 0 ? first.message : `${fieldOf(first)}: ${first.message}`
}

/** Core format: `{error, message, details: {fields}}` plus `_tag`/`issues`, which clients derived from the API decode. */
const CoreDecodeErrorBody = Schema.Struct({
  _tag: Schema.Literal("HttpApiDecodeError"),
  error: Schema.Literal("bad_request"),
  message: Schema.String,
  issues: Schema.Array(HttpApiError.Issue),
  details: Schema.Struct({
    fields: Schema.Array(Schema.String),
    omitted_issues: Schema.optional(Schema.Number)
  })
})

export const CoreDecodeError = Schema.transform(CoreDecodeErrorBody, Schema.instanceOf(HttpApiError.HttpApiDecodeError), {
  strict: true,
  decode: (body) => new HttpApiError.HttpApiDecodeError({ issues: body.issues, message: body.message }),
  encode: (error) => {
    const issues = error.issues.slice(0, MAX_ISSUES).map(capIssue)
    return {
      _tag: "HttpApiDecodeError" as const,
      error: "bad_request" as const,
      message: describe(issues),
      issues,
      details: {
        fields: issues.map(fieldOf).filter((field) => field !== ""),
        ...(error.issues.length > MAX_ISSUES ? { omitted_issues: error.issues.length - MAX_ISSUES } : {})
      }
    }
  }
}).annotations({
  ...HttpApiSchema.annotations({ status: 400 }),
  identifier: "BadRequestDecode",
  description: "The request did not match the endpoint's schema; `message` names the first field at fault"
})

/** A schema that encodes `HttpApiDecodeError` (with status 400) in an API's own format. */
export type DecodeErrorSchema = Schema.Schema<HttpApiError.HttpApiDecodeError, any>

const members = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> => (SchemaAST.isUnion(ast) ? ast.types : [ast])

/**
 * The same API, whose `HttpApiDecodeError` is encoded by `schema`. The
 * platform offers no setter for an API's error schema, so the copy made by
 * `annotateContext` gets it directly; groups and endpoints are shared.
 */
export const replaceDecodeErrors = <Api extends HttpApi.HttpApi.Any>(api: Api, schema: DecodeErrorSchema): Api => {
  const source = api as unknown as HttpApi.HttpApi.AnyWithProps
  const copy = source.annotateContext(source.annotations)
  const kept = members(source.errorSchema.ast).filter((ast) => ast !== HttpApiError.HttpApiDecodeError.ast)
  Object.defineProperty(copy, "errorSchema", {
    value: Schema.make(SchemaAST.Union.make([schema.ast, ...kept])),
    enumerable: true,
    writable: true
  })
  return copy as unknown as Api
}
