/**
 * @itl-attestation/pulumi-state — the `pulumi_state` extension: a Pulumi HTTP
 * state backend. The unmodified `pulumi` CLI logs in to this server
 * (`pulumi login https://<host>`), keeps its stacks' state here and has their
 * secrets encrypted with a per-stack key (docs/pulumi.md).
 */
import { defineExtension, serveApi } from "@itl-attestation/core"
import { Layer } from "effect"
import { pulumiEvents } from "./events.js"
import { migrations } from "./migrations.js"
import { pulumiPipeline } from "./pipeline.js"
import { PulumiApi } from "./PulumiApi.js"
import { PulumiAuth } from "./PulumiAuth.js"
import { PulumiSettings } from "./PulumiConfig.js"
import { pulumiScopes } from "./scopes.js"
import { Stacks } from "./Stacks.js"
import { TokenLimitsHttp } from "./TokenLimits.js"
import { TokenLimitsApi } from "./TokenLimitsApi.js"
import { PulumiStacksHttp, PulumiUserHttp } from "./StacksHttp.js"
import { Secrets } from "./Secrets.js"
import { PulumiSecretsHttp } from "./SecretsHttp.js"
import { Updates } from "./Updates.js"
import { PulumiUpdatesHttp } from "./UpdatesHttp.js"
import { deploymentEvents, deploymentMigrations, DeploymentServices, deploymentsApi } from "./deployments/index.js"

export const PulumiServices = Layer.mergeAll(PulumiAuth.Default, Stacks.Default, Updates.Default, Secrets.Default).pipe(Layer.provideMerge(PulumiSettings.Default))

export const pulumiState = defineExtension({
  name: "pulumi_state",
  version: "1.0.0",
  description: "Pulumi HTTP state backend — store Pulumi stack state in the Attestation DB",
  core: "^2.0.0",
  migrations: { ...migrations, ...deploymentMigrations },
  scopes: pulumiScopes,
  events: [...pulumiEvents, ...deploymentEvents],
  layer: DeploymentServices.pipe(Layer.provideMerge(PulumiServices)),
  apis: [
    serveApi(PulumiApi, Layer.mergeAll(PulumiUserHttp, PulumiStacksHttp, PulumiUpdatesHttp, PulumiSecretsHttp), pulumiPipeline),
    serveApi(TokenLimitsApi, TokenLimitsHttp),
    deploymentsApi
  ]
})

export default pulumiState
export { PulumiApi } from "./PulumiApi.js"
export { TokenLimitsApi } from "./TokenLimitsApi.js"
export { PulumiAuth, type Caller, type Right } from "./PulumiAuth.js"
export { PulumiSettings } from "./PulumiConfig.js"
export { Stacks, type StackRow, describeRef, refOf } from "./Stacks.js"
export { PulumiError, errorResponse } from "./PulumiError.js"
export { PulumiRead, PulumiWrite, PulumiAdmin, pulumiScopes } from "./scopes.js"
export { checkRef, type StackRef } from "./names.js"
