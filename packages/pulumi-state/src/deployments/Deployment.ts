/** A deployment as the API answers it (camelCase, like the rest of the Pulumi API), and its row. */
import { Schema } from "effect"

export const OPERATIONS = ["update", "preview", "refresh", "destroy"] as const
export type Operation = (typeof OPERATIONS)[number]
export const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const

export interface DeploymentRow {
  readonly deployment_id: string
  readonly stack_id: string
  readonly org: string
  readonly project: string
  readonly stack: string
  readonly operation: Operation
  readonly repo_url: string
  readonly branch: string
  readonly repo_dir: string
  /** Comma-separated (names cannot hold a comma). */
  readonly environment_names: string
  readonly environment: Uint8Array | null
  readonly environment_nonce: Uint8Array | null
  readonly environment_tag: Uint8Array | null
  readonly environment_key_id: string | null
  readonly status: (typeof STATUSES)[number]
  readonly reason: string | null
  readonly cancel_requested: boolean
  readonly claimed_by: string | null
  readonly lease_until: Date | null
  readonly pid: number | null
  readonly log_bytes: number
  readonly created_by: string
  readonly created_at: Date
  readonly started_at: Date | null
  readonly ended_at: Date | null
}

const Time = Schema.NullOr(Schema.String)

export const DeploymentSchema = Schema.Struct({
  id: Schema.String,
  org: Schema.String,
  project: Schema.String,
  stack: Schema.String,
  operation: Schema.Literal(...OPERATIONS),
  source: Schema.Struct({ repoURL: Schema.String, branch: Schema.String, repoDir: Schema.String }),
  /** The names of the variables given; their values are never answered. */
  environment: Schema.Array(Schema.String),
  status: Schema.Literal(...STATUSES),
  reason: Schema.NullOr(Schema.String),
  cancelRequested: Schema.Boolean,
  pid: Schema.NullOr(Schema.Number),
  logBytes: Schema.Number,
  createdBy: Schema.String,
  createdAt: Schema.String,
  startedAt: Time,
  endedAt: Time
})
export type Deployment = typeof DeploymentSchema.Type

export const LogChunk = Schema.Struct({ seq: Schema.Number, text: Schema.String, at: Schema.String })

export const DeploymentWithLogs = Schema.Struct({
  ...DeploymentSchema.fields,
  logs: Schema.Array(LogChunk),
  /** Pass as `after` to read the chunks that follow. */
  nextAfter: Schema.Number
})
export type DeploymentWithLogs = typeof DeploymentWithLogs.Type

export const DeploymentList = Schema.Struct({
  deployments: Schema.Array(DeploymentSchema),
  total: Schema.Number,
  offset: Schema.Number
})
export type DeploymentList = typeof DeploymentList.Type

const iso = (date: Date | null) => (date === null ? null : date.toISOString())

export const toDeployment = (row: DeploymentRow): Deployment => ({
  id: row.deployment_id,
  org: row.org,
  project: row.project,
  stack: row.stack,
  operation: row.operation,
  source: { repoURL: row.repo_url, branch: row.branch, repoDir: row.repo_dir },
  environment: row.environment_names === "" ? [] : row.environment_names.split(","),
  status: row.status,
  reason: row.reason,
  cancelRequested: row.cancel_requested,
  pid: row.pid,
  logBytes: row.log_bytes,
  createdBy: row.created_by,
  createdAt: row.created_at.toISOString(),
  startedAt: iso(row.started_at),
  endedAt: iso(row.ended_at)
})

/** The columns answered (never the sealed environment). */
export const PUBLIC_COLUMNS = [
  "deployment_id", "stack_id", "org", "project", "stack", "operation", "repo_url", "branch", "repo_dir", "environment_names",
  "status", "reason", "cancel_requested", "claimed_by", "lease_until", "pid", "log_bytes", "created_by", "created_at", "started_at", "ended_at"
] as const

/** The sealed environment's AAD: it opens only as this deployment's. */
export const environmentAad = (deploymentId: string) => `pulumi_state.deployment:${deploymentId}:environment`
