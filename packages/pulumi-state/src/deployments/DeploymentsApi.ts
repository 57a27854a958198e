/**
 * The deployments routes, beside the Pulumi API's stack routes and on the
 * same pipeline (`Authorization: token …`, `{code, message}` errors). The
 * schemas document the bodies (and give the CLI its client); the handlers
 * read the body themselves, to name the field at fault.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { DeploymentList, DeploymentSchema, DeploymentWithLogs, OPERATIONS } from "./Deployment.js"

const StackPath = Schema.Struct({ org: Schema.String, project: Schema.String, stack: Schema.String })
const DeploymentPath = Schema.Struct({ ...StackPath.fields, id: Schema.String })
const D = "/api/stacks/:org/:project/:stack/deployments"

export const NewDeploymentBody = Schema.Struct({
  operation: Schema.Literal(...OPERATIONS),
  source: Schema.Struct({ repoURL: Schema.String, branch: Schema.String, repoDir: Schema.optional(Schema.String) }),
  environment: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})

export class PulumiDeploymentsGroup extends HttpApiGroup.make("pulumiDeployments")
  .add(
    HttpApiEndpoint.post("create", D)
      .setPath(StackPath)
      .setPayload(NewDeploymentBody)
      .addSuccess(DeploymentSchema, { status: 202 })
      .annotate(OpenApi.Summary, "Queue a deployment: clone the source and run pulumi on this stack (pulumi_state:write)")
  )
  .add(
    HttpApiEndpoint.get("list", D)
      .setPath(StackPath)
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Schema.NumberFromString), offset: Schema.optional(Schema.NumberFromString) }))
      .addSuccess(DeploymentList)
      .annotate(OpenApi.Summary, "The stack's deployments, newest first (limit, offset)")
  )
  .add(
    HttpApiEndpoint.get("get", `${D}/:id`)
      .setPath(DeploymentPath)
      .setUrlParams(Schema.Struct({ after: Schema.optional(Schema.NumberFromString), limit: Schema.optional(Schema.NumberFromString) }))
      .addSuccess(DeploymentWithLogs)
      .annotate(OpenApi.Summary, "One deployment with its status and its output chunks after `after`")
  )
  .add(
    HttpApiEndpoint.del("cancel", `${D}/:id/cancel`)
      .setPath(DeploymentPath)
      .addSuccess(DeploymentSchema)
      .annotate(OpenApi.Summary, "Cancel a deployment (a running one's processes are stopped); 409 once it ended")
  )
  .annotate(OpenApi.Description, "Server-side Pulumi deployments: `Authorization: token <operator token>`; errors `{code, message}`") {}

export const PulumiDeploymentsApi = HttpApi.make("pulumi_state_deployments").add(PulumiDeploymentsGroup)
