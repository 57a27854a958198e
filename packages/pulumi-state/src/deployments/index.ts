/**
 * Server-side deployments of the pulumi_state extension (docs/pulumi.md,
 * "Deployments"): what the extension value adds for them — tables, event
 * types, services with the runner, and the API.
 */
import { serveApi } from "@itl-attestation/core"
import { Layer } from "effect"
import { pulumiPipeline } from "../pipeline.js"
import { DeploySettings } from "./DeployConfig.js"
import { DeploymentRunner } from "./DeploymentRunner.js"
import { Deployments } from "./Deployments.js"
import { PulumiDeploymentsApi } from "./DeploymentsApi.js"
import { PulumiDeploymentsHttp } from "./DeploymentsHttp.js"
import { DeploymentWake } from "./DeploymentWake.js"

export { deploymentMigrations } from "./migrations.js"
export { deploymentEvents } from "./events.js"
export { PulumiDeploymentsApi } from "./DeploymentsApi.js"

/** Needs the protocol's PulumiAuth and Stacks. */
export const DeploymentServices = Layer.merge(Deployments.Default, DeploymentRunner).pipe(
  Layer.provideMerge(Layer.merge(DeploySettings.Default, DeploymentWake.Default))
)

export const deploymentsApi = serveApi(PulumiDeploymentsApi, PulumiDeploymentsHttp, pulumiPipeline)
