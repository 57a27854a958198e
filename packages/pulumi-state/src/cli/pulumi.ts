/**
 * `attestation pulumi …`: the operator's views of the Pulumi backend — stacks,
 * a stack's update history, and server-side deployments (queue, list, show,
 * follow). They call the Pulumi API with the operator's token in the scheme
 * it expects (`Authorization: token …`). A deployment's variables are given
 * by name (`--env NAME,…`) and their values read from this command's own
 * environment, so a secret never appears on a command line.
 */
import { apiCaller, arg, cell, CliFailure, column, command, type Connection, count, details, ExitCode, given, group, limit, offset, option, pageFooter, render, table, time, usageFailure } from "@itl-attestation/cli/sdk"
import { Effect, Option, Redacted } from "effect"
import type { Deployment, DeploymentList, DeploymentWithLogs } from "../deployments/Deployment.js"
import { OPERATIONS } from "../deployments/Deployment.js"
import { PulumiDeploymentsApi } from "../deployments/DeploymentsApi.js"
import { type StackSummary, type UpdateEntry, PulumiViewsApi } from "./views.js"

const callViews = apiCaller(PulumiViewsApi)
const callDeployments = apiCaller(PulumiDeploymentsApi)

/** The Pulumi API reads `token <t>`, not `Bearer <t>`. */
const tokenScheme = (globals: Connection) =>
  Option.match(globals.token, { onNone: () => ({}), onSome: (token) => ({ headers: { authorization: `token ${Redacted.value(token)}` } }) })

const STACK = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/
const stackArg = arg.text("stack", {
  description: "The stack as org/project/stack",
  validate: (value) => (STACK.test(value) ? undefined : `expected org/project/stack, got ${JSON.stringify(value)}`)
})
const pathOf = (stack: string) => {
  const [, org, project, name] = STACK.exec(stack)!
  return { org: org!, project: project!, stack: name! }
}

const EXAMPLE_ID = "3f0c2a6e-8d1b-4c5a-9e7f-1a2b3c4d5e6f"
const TERMINAL = new Set(["succeeded", "failed", "cancelled"])

const seconds = (value: number | null | undefined) => (value === null || value === undefined || value === 0 ? "" : time(new Date(value * 1000).toISOString()))

const stackColumns = [
  column<StackSummary>("stack", (s) => `${s.orgName}/${s.projectName}/${s.stackName}`),
  column<StackSummary>("last_update", (s) => (s.lastUpdate === 0 ? "in progress" : seconds(s.lastUpdate))),
  column<StackSummary>("resources", (s) => cell(s.resourceCount ?? null))
]

const updateColumns = [
  column<UpdateEntry>("version", (u) => cell(u.version ?? null)),
  column<UpdateEntry>("kind", (u) => u.kind),
  column<UpdateEntry>("result", (u) => u.result),
  column<UpdateEntry>("started", (u) => seconds(u.startTime)),
  column<UpdateEntry>("ended", (u) => seconds(u.endTime)),
  column<UpdateEntry>("changes", (u) =>
    Object.entries(u.resourceChanges ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")
  )
]

const deploymentColumns = [
  column<Deployment>("id", (d) => d.id),
  column<Deployment>("operation", (d) => d.operation),
  column<Deployment>("status", (d) => d.status),
  column<Deployment>("branch", (d) => d.source.branch),
  column<Deployment>("created_by", (d) => d.createdBy),
  column<Deployment>("created_at", (d) => time(d.createdAt)),
  column<Deployment>("ended_at", (d) => time(d.endedAt)),
  column<Deployment>("reason", (d) => cell(d.reason))
]

const deploymentDetails = (d: Deployment) =>
  details([
    ["id", d.id],
    ["stack", `${d.org}/${d.project}/${d.stack}`],
    ["operation", d.operation],
    ["status", d.status],
    ["reason", cell(d.reason)],
    ["repo", d.source.repoURL],
    ["branch", d.source.branch],
    ["dir", d.source.repoDir === "" ? "." : d.source.repoDir],
    ["environment", d.environment.join(",")],
    ["cancel_requested", cell(d.cancelRequested)],
    ["created_by", d.createdBy],
    ["created_at", time(d.createdAt)],
    ["started_at", time(d.startedAt)],
    ["ended_at", time(d.endedAt)],
    ["log_bytes", cell(d.logBytes)]
  ])

const stacks = command({
  name: "stacks",
  summary: "List the Pulumi stacks this server holds",
  examples: [
    { command: "attestation pulumi stacks", description: "Every stack with its last update and resource count" },
    { command: "attestation pulumi stacks --project web -o json", description: "One project's stacks as JSON" }
  ],
  options: {
    project: option.text("project", { description: "Only this project's stacks" }),
    org: option.text("org", { description: "Only this organization's stacks" })
  },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const all: Array<StackSummary> = []
      let continuationToken: string | undefined
      do {
        const page = yield* callViews(
          globals,
          (api) =>
            api.views.stacks({
              urlParams: { ...given("continuationToken", continuationToken), ...given("project", options.project), ...given("organization", options.org) }
            }),
          tokenScheme(globals)
        )
        all.push(...page.stacks)
        continuationToken = page.continuationToken ?? undefined
      } while (continuationToken !== undefined && continuationToken !== "")
      yield* render(
        globals.output,
        { stacks: all },
        (l) => `${table(stackColumns, l.stacks)}\n${count(l.stacks.length, "stack")}`,
        (l) => l.stacks.map((s) => `${s.orgName}/${s.projectName}/${s.stackName}`)
      )
    })
})

const history = command({
  name: "history",
  summary: "A stack's updates, newest first",
  examples: [{ command: "attestation pulumi history acme/web/production", description: "The last updates of that stack" }],
  args: { stack: stackArg },
  options: {
    page: option.integer("page", { description: "Page, from 1", min: 1, default: 1 }),
    pageSize: option.integer("page-size", { description: "Updates per page", min: 1, max: 500, default: 20 })
  },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const answer = yield* callViews(
        globals,
        (api) => api.views.history({ path: pathOf(args.stack), urlParams: { page: String(options.page), pageSize: String(options.pageSize) } }),
        tokenScheme(globals)
      )
      yield* render(globals.output, answer, (h) => `${table(updateColumns, h.updates)}\n${count(h.updates.length, "update")}`, () => [])
    })
})

/** Prints a deployment's output as it is stored, until it ends; the exit code tells how it ended. */
const follow = (globals: Connection & { output: string }, stack: string, id: string, from: number) =>
  Effect.gen(function* () {
    let after = from
    for (;;) {
      const page: DeploymentWithLogs = yield* callDeployments(
        globals,
        (api) => api.pulumiDeployments.get({ path: { ...pathOf(stack), id }, urlParams: { after } }),
        tokenScheme(globals)
      )
      for (const chunk of page.logs) process.stdout.write(chunk.text)
      after = page.nextAfter
      if (page.logs.length > 0) continue
      if (TERMINAL.has(page.status)) {
        if (page.status === "succeeded") return
        return yield* Effect.fail(
          new CliFailure({ message: `deployment ${id} ${page.status}${page.reason === null ? "" : `: ${page.reason}`}`, exitCode: ExitCode.error })
        )
      }
      yield* Effect.sleep("1 second")
    }
  })

const deploy = command({
  name: "deploy",
  summary: "Queue a deployment: the server clones the source and runs pulumi on the stack",
  description:
    "The repository must be under a prefix of the server's ITL_PULUMI_DEPLOY_REPO_ALLOWLIST. --env names variables whose values " +
    "are read from this command's environment (never from the command line); the server keeps them encrypted and redacts them from the output.",
  examples: [
    {
      command: "attestation pulumi deploy acme/web/production --operation update --repo https://git.example.com/acme/web.git --branch main --dir infra",
      description: "Run `pulumi up` for the program in infra/ of branch main"
    },
    { command: "AWS_SECRET_ACCESS_KEY=… attestation pulumi deploy acme/web/dev --repo https://git.example.com/acme/web.git --branch main --env AWS_SECRET_ACCESS_KEY --follow", description: "With a secret variable, printing the output as it runs" }
  ],
  args: { stack: stackArg },
  options: {
    operation: option.choice("operation", OPERATIONS, { description: "What pulumi runs", default: "update" }),
    repo: option.text("repo", { description: "The repository URL to clone", placeholder: "URL", required: true }),
    branch: option.text("branch", { description: "The branch (or tag) to check out", required: true }),
    dir: option.text("dir", { description: "The program's directory in the repository (default: its root)", placeholder: "PATH" }),
    env: option.list("env", {
      description: "Names of variables to pass, their values taken from this command's environment",
      placeholder: "NAMES",
      validate: (name) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? undefined : "expected a variable name")
    }),
    follow: option.boolean("follow", { description: "Print the output as it runs and exit with its outcome" })
  },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const environment: Record<string, string> = {}
      for (const name of options.env ?? []) {
        const value = process.env[name]
        if (value === undefined) return yield* Effect.fail(usageFailure(`--env: ${name} is not set in this command's environment`))
        environment[name] = value
      }
      const queued = yield* callDeployments(
        globals,
        (api) =>
          api.pulumiDeployments.create({
            path: pathOf(args.stack),
            payload: {
              operation: options.operation,
              source: { repoURL: options.repo, branch: options.branch, ...given("repoDir", options.dir) },
              ...(Object.keys(environment).length === 0 ? {} : { environment })
            }
          }),
        tokenScheme(globals)
      )
      if (options.follow === true) {
        process.stderr.write(`deployment ${queued.id} queued\n`)
        return yield* follow(globals, args.stack, queued.id, 0)
      }
      yield* render(globals.output, queued, deploymentDetails)
    })
})

const deployments = command({
  name: "deployments",
  summary: "A stack's deployments, newest first",
  examples: [{ command: "attestation pulumi deployments acme/web/production", description: "Status of the last deployments" }],
  args: { stack: stackArg },
  options: { limit, offset },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const list = yield* callDeployments(
        globals,
        (api) => api.pulumiDeployments.list({ path: pathOf(args.stack), urlParams: { limit: options.limit, offset: options.offset } }),
        tokenScheme(globals)
      )
      yield* render(
        globals.output,
        list,
        (l: DeploymentList) => `${table(deploymentColumns, l.deployments)}\n${pageFooter(l.deployments.length, l.total, l.offset, "deployment")}`,
        (l) => l.deployments.map((d) => d.id)
      )
    })
})

const deployment = command({
  name: "deployment",
  summary: "One deployment: its status, and with --follow its output until it ends",
  examples: [
    { command: `attestation pulumi deployment acme/web/production ${EXAMPLE_ID}`, description: "Its status and reason" },
    { command: `attestation pulumi deployment acme/web/production ${EXAMPLE_ID} --follow`, description: "Print its output as it runs; exit 0 only if it succeeded" }
  ],
  args: { stack: stackArg, id: arg.text("id", { description: "The deployment id, from `pulumi deployments`" }) },
  options: {
    follow: option.boolean("follow", { description: "Print the output (from the start) as it runs and exit with its outcome" }),
    cancel: option.boolean("cancel", { description: "Cancel it (a running one's processes are stopped)" })
  },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      if (options.cancel === true) {
        const cancelled = yield* callDeployments(globals, (api) => api.pulumiDeployments.cancel({ path: { ...pathOf(args.stack), id: args.id } }), tokenScheme(globals))
        return yield* render(globals.output, cancelled, deploymentDetails)
      }
      if (options.follow === true) return yield* follow(globals, args.stack, args.id, 0)
      const one = yield* callDeployments(
        globals,
        (api) => api.pulumiDeployments.get({ path: { ...pathOf(args.stack), id: args.id }, urlParams: { limit: 1 } }),
        tokenScheme(globals)
      )
      const { logs: _logs, nextAfter: _next, ...rest } = one
      yield* render(globals.output, rest, deploymentDetails)
    })
})

export const pulumiCommand = group({
  name: "pulumi",
  summary: "Pulumi state backend: stacks, history and server-side deployments (pulumi_state extension)",
  commands: [stacks, history, deploy, deployments, deployment],
  examples: [{ command: "attestation pulumi stacks", description: "Every stack" }]
})
