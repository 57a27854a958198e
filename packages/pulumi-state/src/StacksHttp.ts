/** Handlers of the login, stack and listing routes (PulumiApi.ts). */
import { HttpServerResponse } from "@effect/platform"
import { groupUsing } from "@itl-attestation/core"
import { Effect } from "effect"
import { checkName, checkOrg, checkRef, checkTags, type StackRef } from "./names.js"
import { PulumiApi } from "./PulumiApi.js"
import { PulumiAuth } from "./PulumiAuth.js"
import { PulumiSettings } from "./PulumiConfig.js"
import { answer, badField, errorResponse, json, notFound, type PulumiError } from "./PulumiError.js"
import { objectBody, optionalString, positiveInt, queryOf, requiredString } from "./request.js"
import { type HistoryRow, Updates } from "./Updates.js"
import { Capabilities } from "./capabilities.js"
import { describeRef, refOf, Stacks, type StackRow } from "./Stacks.js"

/** The history's `result` for each status. */
const RESULT: Record<string, string> = {
  "not started": "not-started",
  running: "in-progress",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "failed"
}

/** One history entry, as `pulumi stack history` reads it. */
const updateInfo = (u: HistoryRow) => ({
  kind: u.kind,
  startTime: seconds(u.started_at ?? u.created_at),
  message: u.message,
  environment: u.environment,
  config: u.config,
  result: RESULT[u.status],
  ...(u.ended_at === null ? {} : { endTime: seconds(u.ended_at) }),
  version: u.version,
  ...(u.resource_changes === null ? {} : { resourceChanges: u.resource_changes })
})

const seconds = (date: Date | null) => (date === null ? undefined : Math.floor(date.getTime() / 1000))

export const stackBody = (row: StackRow, activeUpdate: string) => ({
  id: row.stack_id,
  orgName: row.org,
  projectName: row.project,
  stackName: row.name,
  activeUpdate,
  tags: row.tags,
  version: row.version
})

/** With ITL_PULUMI_ENABLED=false every route answers as if it did not exist. */
export const whenEnabled = Effect.map(PulumiSettings, (settings) =>
  <R>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, PulumiError, R>) =>
    settings.enabled ? answer(effect) : Effect.succeed(errorResponse(404, "the Pulumi backend is disabled on this server (ITL_PULUMI_ENABLED=false)"))
)

export const stackRef = (path: { org: string; project: string; stack: string }): StackRef => ({ org: path.org, project: path.project, stack: path.stack })

export const PulumiUserHttp = groupUsing(PulumiAuth, Stacks, PulumiSettings)(PulumiApi, "pulumiUser", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* PulumiAuth
    const stacks = yield* Stacks
    const settings = yield* PulumiSettings
    const serve = yield* whenEnabled
    return handlers
      .handleRaw("user", ({ request }) =>
        serve(
          Effect.gen(function* () {
            const who = yield* auth.authorize(request, "read")
            const org = who.limit?.org ?? settings.org
            return json({
              id: who.tokenId ?? "pulumi-token",
              githubLogin: org,
              name: who.name,
              email: "",
              avatarUrl: "",
              organizations: [{ githubLogin: org, name: org, avatarUrl: "" }],
              identities: [],
              tokenInfo: { name: who.name, organization: org, team: "" }
            })
          })
        )
      )
      .handleRaw("defaultOrg", ({ request }) =>
        serve(Effect.map(auth.authorize(request, "read"), (who) => json({ GitHubLogin: who.limit?.org ?? settings.org, Messages: [] })))
      )
      .handleRaw("capabilities", ({ request }) => serve(Effect.as(auth.authorize(request, "read"), json({ capabilities: Capabilities }))))
      .handleRaw("listStacks", ({ request }) =>
        serve(
          Effect.gen(function* () {
            const who = yield* auth.authorize(request, "read")
            const q = queryOf(request)
            const page = yield* stacks.list(who, {
              org: q.get("organization") ?? undefined,
              project: q.get("project") ?? undefined,
              tagName: q.get("tagName") ?? undefined,
              tagValue: q.get("tagValue") ?? undefined,
              continuationToken: q.get("continuationToken") ?? undefined
            })
            return json({
              stacks: page.rows.map((row) => ({
                id: row.stack_id,
                orgName: row.org,
                projectName: row.project,
                stackName: row.name,
                // lastUpdate 0 is how the CLI learns an update is in progress; absent: never updated.
                ...(row.busy
                  ? { lastUpdate: 0, resourceCount: row.resource_count }
                  : row.last_update_at === null
                    ? {}
                    : { lastUpdate: seconds(row.last_update_at), resourceCount: row.resource_count }),
                links: { self: "" }
              })),
              ...(page.continuationToken === undefined ? {} : { continuationToken: page.continuationToken })
            })
          })
        )
      )
  })
)

export const PulumiStacksHttp = groupUsing(PulumiAuth, Stacks, Updates, PulumiSettings)(PulumiApi, "pulumiStacks", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* PulumiAuth
    const stacks = yield* Stacks
    const updates = yield* Updates
    const serve = yield* whenEnabled
    /** The stack in the path, after the caller's right on it was checked (so a refusal says nothing about it). */
    const stackFor = (request: Parameters<typeof auth.authorize>[0], ref: StackRef, right: "read" | "write") =>
      Effect.gen(function* () {
        const who = yield* auth.authorize(request, right, { org: ref.org, project: ref.project })
        yield* checkRef(ref)
        return { who, row: yield* stacks.get(ref) }
      })
    return handlers
      .handleRaw("createStack", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const who = yield* auth.authorize(request, "write", { org: path.org, project: path.project })
            yield* checkOrg(path.org)
            yield* checkName(path.project, "projectName")
            const body = yield* objectBody(request)
            const name = yield* requiredString(body, "stackName")
            yield* checkName(name, "stackName")
            const tags = yield* checkTags(body.tags, "tags")
            const state = body.state === undefined || body.state === null ? undefined : JSON.stringify(body.state)
            if (state !== undefined && (typeof body.state !== "object" || Array.isArray(body.state))) return yield* badField("state", "must be a deployment object")
            yield* stacks.create(who, { org: path.org, project: path.project, stack: name }, tags, state)
            return json({})
          })
        )
      )
      .handleRaw("getStack", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { row } = yield* stackFor(request, stackRef(path), "read")
            return json(stackBody(row, yield* stacks.activeUpdate(row)))
          })
        )
      )
      .handleRaw("deleteStack", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { who, row } = yield* stackFor(request, stackRef(path), "write")
            const force = queryOf(request).get("force")
            if (force !== null && force !== "true" && force !== "false") return yield* badField("force", "must be true or false")
            yield* stacks.remove(who, row, force === "true")
            return HttpServerResponse.empty({ status: 204 })
          })
        )
      )
      .handleRaw("updateTags", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { row } = yield* stackFor(request, stackRef(path), "write")
            const tags = yield* checkTags(yield* objectBody(request), "tags")
            yield* stacks.setTags(row, tags)
            return HttpServerResponse.empty({ status: 204 })
          })
        )
      )
      .handleRaw("renameStack", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { who, row } = yield* stackFor(request, stackRef(path), "write")
            const body = yield* objectBody(request)
            const newName = (yield* optionalString(body, "newName")) || row.name
            const newProject = (yield* optionalString(body, "newProject")) || row.project
            yield* checkName(newName, "newName")
            yield* checkName(newProject, "newProject")
            yield* auth.check(who, "write", { org: row.org, project: newProject })
            yield* stacks.rename(who, row, { org: row.org, project: newProject, stack: newName })
            return HttpServerResponse.empty({ status: 204 })
          })
        )
      )
      .handleRaw("exportStack", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { row } = yield* stackFor(request, stackRef(path), "read")
            return rawJson(yield* stacks.state(row))
          })
        )
      )
      .handleRaw("exportVersion", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { row } = yield* stackFor(request, stackRef(path), "read")
            const version = Number(path.version)
            if (!/^[0-9]{1,9}$/.test(path.version) || version < 1) return yield* badField("version", "must be a positive integer")
            return rawJson(yield* stacks.state(row, version))
          })
        )
      )
      .handleRaw("importStack", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { who, row } = yield* stackFor(request, stackRef(path), "write")
            const body = yield* objectBody(request)
            const updateId = yield* updates.importState(who, row, body, yield* request.text.pipe(Effect.orDie))
            // `updateId`, not `updateID`: the import response spells it so.
            return json({ updateId })
          })
        )
      )
      .handleRaw("latestUpdate", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { row } = yield* stackFor(request, stackRef(path), "read")
            const [latest] = yield* updates.history(row, 1, 1)
            if (latest === undefined) return yield* notFound(`stack '${describeRef(refOf(row))}' has no updates`)
            return json({ info: updateInfo(latest) })
          })
        )
      )
      .handleRaw("history", ({ request, path }) =>
        serve(
          Effect.gen(function* () {
            const { row } = yield* stackFor(request, stackRef(path), "read")
            const q = queryOf(request)
            const pageSize = yield* positiveInt(q.get("pageSize"), "pageSize", 100, 1000)
            const page = yield* positiveInt(q.get("page"), "page", 1, 1_000_000)
            const rows = yield* updates.history(row, pageSize, page)
            return json({ updates: rows.map(updateInfo) })
          })
        )
      )
  })
)

/** A stored JSON text, sent as it is. */
export const rawJson = (text: string) => HttpServerResponse.text(text, { contentType: "application/json" })
