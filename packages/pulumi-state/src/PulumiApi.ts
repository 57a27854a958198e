/**
 * The Pulumi service API the `pulumi` CLI speaks (docs/pulumi.md), declared
 * with HttpApi so /openapi.json lists it. Bodies are read by the handlers
 * themselves (`handleRaw`): a checkpoint's exact bytes matter (delta
 * checkpoints are byte offsets into them), and every failure is the
 * `{code, message}` body the CLI reads.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"

const StackPath = Schema.Struct({ org: Schema.String, project: Schema.String, stack: Schema.String })
const UpdatePath = Schema.Struct({ org: Schema.String, project: Schema.String, stack: Schema.String, updateId: Schema.String })
const S = "/api/stacks/:org/:project/:stack"
const U = `${S}/update/:updateId` as const

const Json = Schema.Unknown.annotations({ description: "JSON, as the Pulumi CLI sends and reads it" })

const get = <const N extends string, const P extends `/${string}`>(name: N, path: P, summary: string) =>
  HttpApiEndpoint.get(name, path).addSuccess(Json).annotate(OpenApi.Summary, summary)
const post = <const N extends string, const P extends `/${string}`>(name: N, path: P, summary: string) =>
  HttpApiEndpoint.post(name, path).addSuccess(Json).annotate(OpenApi.Summary, summary)
const patch = <const N extends string, const P extends `/${string}`>(name: N, path: P, summary: string) =>
  HttpApiEndpoint.patch(name, path).addSuccess(Json).annotate(OpenApi.Summary, summary)

export class PulumiUserGroup extends HttpApiGroup.make("pulumiUser")
  .add(get("user", "/api/user", "The caller, as the Pulumi CLI's login expects it"))
  .add(get("defaultOrg", "/api/user/organizations/default", "The default organization (ITL_PULUMI_ORG)"))
  .add(get("capabilities", "/api/capabilities", "What this backend supports (batch-encrypt, delta checkpoints)"))
  .add(get("listStacks", "/api/user/stacks", "Stacks, 100 per page, with a continuationToken"))
  .annotate(OpenApi.Description, "Pulumi CLI protocol: `Authorization: token <ITL_PULUMI_TOKEN or operator token>`; errors `{code, message}`") {}

export class PulumiStacksGroup extends HttpApiGroup.make("pulumiStacks")
  .add(post("createStack", "/api/stacks/:org/:project", "Create a stack").setPath(Schema.Struct({ org: Schema.String, project: Schema.String })))
  .add(get("getStack", S, "A stack (404 when it does not exist)").setPath(StackPath))
  .add(
    HttpApiEndpoint.del("deleteStack", S)
      .setPath(StackPath)
      .addSuccess(Json)
      .annotate(OpenApi.Summary, "Delete a stack; with resources left only with ?force=true")
  )
  .add(patch("updateTags", `${S}/tags`, "Replace the stack's tags").setPath(StackPath))
  .add(post("renameStack", `${S}/rename`, "Rename a stack (and/or move it to another project of its org)").setPath(StackPath))
  .add(get("exportStack", `${S}/export`, "The stack's current state").setPath(StackPath))
  .add(get("exportVersion", `${S}/export/:version`, "The state a version produced").setPath(Schema.Struct({ ...StackPath.fields, version: Schema.String })))
  .add(post("importStack", `${S}/import`, "Replace the stack's state (gzip accepted)").setPath(StackPath))
  .add(get("history", `${S}/updates`, "Finished and running updates, newest first (pageSize, page)").setPath(StackPath))
  .add(get("latestUpdate", `${S}/updates/latest`, "The newest update (404 when there is none)").setPath(StackPath)) {}

export class PulumiUpdatesGroup extends HttpApiGroup.make("pulumiUpdates")
  .add(post("createUpdate", `${S}/update`, "Create an update").setPath(StackPath))
  .add(post("createPreview", `${S}/preview`, "Create a preview").setPath(StackPath))
  .add(post("createRefresh", `${S}/refresh`, "Create a refresh").setPath(StackPath))
  .add(post("createDestroy", `${S}/destroy`, "Create a destroy").setPath(StackPath))
  .add(post("startUpdate", U, "Start an update: its version and lease token (409 while another runs)").setPath(UpdatePath))
  .add(get("updateStatus", U, "An update's status").setPath(UpdatePath))
  .add(post("renewLease", `${U}/renew_lease`, "Renew the lease (update-token; 403 once it is lost)").setPath(UpdatePath))
  .add(patch("checkpoint", `${U}/checkpoint`, "Save the full state (update-token, gzip)").setPath(UpdatePath))
  .add(patch("checkpointVerbatim", `${U}/checkpointverbatim`, "Save the state text as sent, with a sequence number (update-token, gzip)").setPath(UpdatePath))
  .add(patch("checkpointDelta", `${U}/checkpointdelta`, "Save the state as edits of the last text, checked by SHA-256 (update-token, gzip)").setPath(UpdatePath))
  .add(post("events", `${U}/events/batch`, "Engine events (update-token, gzip)").setPath(UpdatePath))
  .add(post("complete", `${U}/complete`, "Finish an update (update-token)").setPath(UpdatePath))
  .add(post("cancel", `${U}/cancel`, "Cancel an update").setPath(UpdatePath)) {}

export class PulumiSecretsGroup extends HttpApiGroup.make("pulumiSecrets")
  .add(post("encrypt", `${S}/encrypt`, "Encrypt one value with the stack's key").setPath(StackPath))
  .add(post("decrypt", `${S}/decrypt`, "Decrypt one value").setPath(StackPath))
  .add(post("batchEncrypt", `${S}/batch-encrypt`, "Encrypt values (gzip)").setPath(StackPath))
  .add(post("batchDecrypt", `${S}/batch-decrypt`, "Decrypt values (gzip); the answer is keyed by ciphertext").setPath(StackPath))
  .add(post("logDecryption", `${S}/decrypt/log-decryption`, "Acknowledges the CLI's audit ping").setPath(StackPath))
  .add(post("logBatchDecryption", `${S}/decrypt/log-batch-decryption`, "Acknowledges the CLI's audit ping").setPath(StackPath)) {}

export const PulumiApi = HttpApi.make("pulumi_state")
  .add(PulumiUserGroup)
  .add(PulumiStacksGroup)
  .add(PulumiUpdatesGroup)
  .add(PulumiSecretsGroup)
