/**
 * Stacks: the rows, their lookup (also used by deployments), creation,
 * listing, tags, rename and deletion. State itself is written by updates and
 * imports (Updates.ts); this reads it for export.
 */
import { SqlClient } from "@effect/sql"
import { actorOf, AuditedChanges } from "@itl-attestation/core"
import { Effect } from "effect"
import type { Caller } from "./PulumiAuth.js"
import { badField, conflict, fail, notFound, type PulumiError } from "./PulumiError.js"
import type { StackRef } from "./names.js"

export interface StackRow {
  readonly stack_id: string
  readonly org: string
  readonly project: string
  readonly name: string
  readonly tags: Record<string, string>
  readonly version: number
  readonly resource_count: number
  readonly last_update_at: Date | null
  readonly created_at: Date
}

/** What the CLI's delete-with-resources check matches exactly (it then prints its `--force` help). */
export const STILL_HAS_RESOURCES = "Bad Request: Stack still contains resources."

const COLUMNS = "stack_id, org, project, name, tags, version, resource_count, last_update_at, created_at"

export const refOf = (row: StackRow): StackRef => ({ org: row.org, project: row.project, stack: row.name })
export const describeRef = (ref: StackRef) => `${ref.org}/${ref.project}/${ref.stack}`

/** A never-updated stack still exports a deployment the CLI can parse. */
export const EMPTY_DEPLOYMENT = '{"version":3,"deployment":{"manifest":{"time":"0001-01-01T00:00:00Z","magic":"","version":""}}}'

/** Continuation tokens are opaque to the CLI and appended unescaped: base64url of the last key listed. */
const encodeCursor = (row: StackRow) => Buffer.from(JSON.stringify([row.org, row.project, row.name])).toString("base64url")
const decodeCursor = (token: string) => {
  try {
    const value = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown
    if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "string")) return value as [string, string, string]
  } catch {
    // falls through to undefined
  }
  return undefined
}

export const LIST_PAGE_SIZE = 100

export class Stacks extends Effect.Service<Stacks>()("@itl-attestation/pulumi-state/Stacks", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const changes = yield* AuditedChanges

    /** The stack, if it exists. */
    const find = (ref: StackRef) =>
      sql<StackRow>`SELECT ${sql.literal(COLUMNS)} FROM extension_pulumi_state_stacks
        WHERE org = ${ref.org} AND project = ${ref.project} AND name = ${ref.stack}`.pipe(
        Effect.map((rows) => rows[0]),
        Effect.orDie
      )

    /** The stack, or the CLI's 404. */
    const get = (ref: StackRef): Effect.Effect<StackRow, PulumiError> =>
      Effect.flatMap(find(ref), (row) => (row === undefined ? notFound(`stack '${describeRef(ref)}' not found`) : Effect.succeed(row)))

    const create = (who: Caller, ref: StackRef, tags: Record<string, string>, initialState: string | undefined) =>
      Effect.gen(function* () {
        const rows = yield* sql<StackRow>`INSERT INTO extension_pulumi_state_stacks (org, project, name, tags, state, created_by)
          VALUES (${ref.org}, ${ref.project}, ${ref.stack}, ${JSON.stringify(tags)}::jsonb, ${initialState ?? null}, ${who.name})
          ON CONFLICT (org, project, name) DO NOTHING RETURNING ${sql.literal(COLUMNS)}`.pipe(Effect.orDie)
        if (rows.length === 0) return yield* conflict(`stack '${describeRef(ref)}' already exists`)
        return rows[0]!
      })

    /** One page of stacks, in (org, project, name) order, within the caller's limit. */
    const list = (
      who: Caller,
      filter: { org?: string | undefined; project?: string | undefined; tagName?: string | undefined; tagValue?: string | undefined; continuationToken?: string | undefined }
    ) =>
      Effect.gen(function* () {
        const after = filter.continuationToken === undefined || filter.continuationToken === "" ? undefined : decodeCursor(filter.continuationToken)
        if (filter.continuationToken !== undefined && filter.continuationToken !== "" && after === undefined) {
          return yield* badField("continuationToken", "is not a token this server issued")
        }
        const conditions = [sql`true`]
        if (filter.org !== undefined) conditions.push(sql`org = ${filter.org}`)
        if (filter.project !== undefined) conditions.push(sql`project = ${filter.project}`)
        if (who.limit !== undefined) {
          conditions.push(sql`org = ${who.limit.org}`)
          if (who.limit.project !== null) conditions.push(sql`project = ${who.limit.project}`)
        }
        if (filter.tagName !== undefined) {
          conditions.push(filter.tagValue === undefined ? sql`tags ? ${filter.tagName}` : sql`tags ->> ${filter.tagName} = ${filter.tagValue}`)
        }
        if (after !== undefined) conditions.push(sql`(org, project, name) > (${after[0]}, ${after[1]}, ${after[2]})`)
        // `busy`: a real (not dry-run) update holds a live lease; the CLI shows it as "update in progress".
        const rows = yield* sql<StackRow & { busy: boolean }>`SELECT ${sql.literal(COLUMNS)}, EXISTS (
            SELECT 1 FROM extension_pulumi_state_updates u WHERE u.stack_id = s.stack_id
              AND u.status = 'running' AND NOT u.dry_run AND u.lease_expires_at > now()) AS busy
          FROM extension_pulumi_state_stacks s
          WHERE ${sql.and(conditions)} ORDER BY org, project, name LIMIT ${LIST_PAGE_SIZE + 1}`.pipe(Effect.orDie)
        const page = rows.slice(0, LIST_PAGE_SIZE)
        return { rows: page, continuationToken: rows.length > LIST_PAGE_SIZE ? encodeCursor(page[page.length - 1]!) : undefined }
      })

    const setTags = (row: StackRow, tags: Record<string, string>) =>
      sql`UPDATE extension_pulumi_state_stacks SET tags = ${JSON.stringify(tags)}::jsonb WHERE stack_id = ${row.stack_id}`.pipe(Effect.asVoid, Effect.orDie)

    /** Deletes the stack and everything it holds; refused (the CLI's exact 400) while it has resources, unless forced. */
    const remove = (who: Caller, row: StackRow, force: boolean) =>
      Effect.gen(function* () {
        if (row.resource_count > 0 && !force) return yield* fail(400, STILL_HAS_RESOURCES)
        yield* changes
          .run(
            actorOf(who),
            sql`DELETE FROM extension_pulumi_state_stacks WHERE stack_id = ${row.stack_id}`,
            () => ({
              action: "pulumi_state.stack_deleted",
              targetType: "pulumi_stack",
              targetId: describeRef(refOf(row)),
              details: { force, resource_count: row.resource_count, version: row.version }
            })
          )
          .pipe(Effect.orDie)
      })

    const rename = (who: Caller, row: StackRow, to: StackRef) =>
      Effect.gen(function* () {
        const taken = yield* find(to)
        if (taken !== undefined) return yield* conflict(`stack '${describeRef(to)}' already exists`)
        yield* changes
          .run(
            actorOf(who),
            sql`UPDATE extension_pulumi_state_stacks SET project = ${to.project}, name = ${to.stack} WHERE stack_id = ${row.stack_id}`,
            () => ({
              action: "pulumi_state.stack_renamed",
              targetType: "pulumi_stack",
              targetId: describeRef(refOf(row)),
              details: { to: describeRef(to) }
            })
          )
          .pipe(Effect.catchAll((error) => (isUniqueViolation(error) ? conflict(`stack '${describeRef(to)}' already exists`) : Effect.die(error))))
      })

    /** The exact state text of the stack now, or of one version. */
    const state = (row: StackRow, version?: number) =>
      Effect.gen(function* () {
        if (version === undefined) {
          const [current] = yield* sql<{ state: string | null }>`SELECT state FROM extension_pulumi_state_stacks WHERE stack_id = ${row.stack_id}`.pipe(Effect.orDie)
          return current?.state ?? EMPTY_DEPLOYMENT
        }
        const [saved] = yield* sql<{ state: string }>`SELECT state FROM extension_pulumi_state_versions
          WHERE stack_id = ${row.stack_id} AND version = ${version}`.pipe(Effect.orDie)
        if (saved === undefined) return yield* notFound(`stack '${describeRef(refOf(row))}' has no version ${version}`)
        return saved.state
      })

    /** The running update's id, or "" (what `pulumi cancel` reads). */
    const activeUpdate = (row: StackRow) =>
      sql<{ update_id: string }>`SELECT update_id FROM extension_pulumi_state_updates
        WHERE stack_id = ${row.stack_id} AND status = 'running' AND lease_expires_at > now()`.pipe(
        Effect.map((rows) => rows[0]?.update_id ?? ""),
        Effect.orDie
      )

    return { find, get, create, list, setTags, remove, rename, state, activeUpdate } as const
  })
}) {}

const isUniqueViolation = (error: unknown) => {
  const cause = (error as { cause?: { code?: unknown } })?.cause
  return cause?.code === "23505"
}
