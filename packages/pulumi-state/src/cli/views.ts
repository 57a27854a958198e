/**
 * The Pulumi routes the operator commands read, described for the CLI's
 * derived client with the query parameters they use (the protocol API leaves
 * queries to its raw handlers). Same paths, same `token` scheme.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"

const StackPath = Schema.Struct({ org: Schema.String, project: Schema.String, stack: Schema.String })

export const StackSummary = Schema.Struct({
  orgName: Schema.String,
  projectName: Schema.String,
  stackName: Schema.String,
  lastUpdate: Schema.optional(Schema.NullOr(Schema.Number)),
  resourceCount: Schema.optional(Schema.NullOr(Schema.Number))
})
export type StackSummary = typeof StackSummary.Type

export const StackList = Schema.Struct({
  stacks: Schema.Array(StackSummary),
  continuationToken: Schema.optional(Schema.NullOr(Schema.String))
})

/** One entry of `GET …/updates` (what the command shows of it). */
export const UpdateEntry = Schema.Struct({
  version: Schema.optional(Schema.NullOr(Schema.Number)),
  kind: Schema.String,
  result: Schema.String,
  startTime: Schema.optional(Schema.Number),
  endTime: Schema.optional(Schema.Number),
  message: Schema.optional(Schema.String),
  resourceChanges: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Number })))
})
export type UpdateEntry = typeof UpdateEntry.Type

export const History = Schema.Struct({ updates: Schema.Array(UpdateEntry) })

export const PulumiViewsApi = HttpApi.make("pulumi_state_views").add(
  HttpApiGroup.make("views")
    .add(
      HttpApiEndpoint.get("stacks", "/api/user/stacks")
        .setUrlParams(Schema.Struct({ continuationToken: Schema.optional(Schema.String), project: Schema.optional(Schema.String), organization: Schema.optional(Schema.String) }))
        .addSuccess(StackList)
    )
    .add(
      HttpApiEndpoint.get("history", "/api/stacks/:org/:project/:stack/updates")
        .setPath(StackPath)
        .setUrlParams(Schema.Struct({ page: Schema.optional(Schema.String), pageSize: Schema.optional(Schema.String) }))
        .addSuccess(History)
    )
)
