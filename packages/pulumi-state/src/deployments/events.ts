/**
 * The deployments' event types. The catalog's names are `<namespace>.<name>`
 * with one dot, so the issue's `pulumi.deployment.*` are
 * `pulumi.deployment_<status>` (docs/pulumi.md). Payloads name the deployment,
 * its stack and what it runs — never the environment's values or the logs.
 */
import { defineEvent } from "@itl-attestation/core"
import { Schema } from "effect"

const DeploymentEvent = Schema.Struct({
  deployment_id: Schema.String,
  org: Schema.String,
  project: Schema.String,
  stack: Schema.String,
  operation: Schema.String,
  status: Schema.String,
  reason: Schema.NullOr(Schema.String)
})

const event = (status: string, description: string) =>
  defineEvent({ type: `pulumi.deployment_${status}`, description, payload: DeploymentEvent })

export const DeploymentQueued = event("queued", "A Pulumi deployment was queued")
export const DeploymentStarted = event("started", "A Pulumi deployment started running (a runner claimed it)")
export const DeploymentSucceeded = event("succeeded", "A Pulumi deployment's pulumi command succeeded")
export const DeploymentFailed = event("failed", "A Pulumi deployment failed (clone, install or pulumi failed, timed out, or its runner died)")
export const DeploymentCancelled = event("cancelled", "A Pulumi deployment was cancelled")

export const deploymentEvents = [DeploymentQueued, DeploymentStarted, DeploymentSucceeded, DeploymentFailed, DeploymentCancelled]

export const eventOf = (row: { deployment_id: string; org: string; project: string; stack: string; operation: string; status: string; reason: string | null }) => ({
  type: `pulumi.deployment_${row.status === "running" ? "started" : row.status}`,
  data: {
    deployment_id: row.deployment_id,
    org: row.org,
    project: row.project,
    stack: row.stack,
    operation: row.operation,
    status: row.status,
    reason: row.reason
  }
})
