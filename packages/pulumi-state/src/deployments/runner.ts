/**
 * One deployment's run on this host: a fresh directory, a shallow clone of the
 * one branch, `npm ci` when the program has a package.json, then the `pulumi`
 * command against this server with the deployment's own short-lived token.
 * Every process runs in its own group with an environment made here (PATH,
 * HOME, the Pulumi variables and the deployment's own variables) — never the
 * server's, which holds its database URL and keys. The directory is removed
 * afterwards, however the run ends.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { DeployConfigShape } from "./DeployConfig.js"
import { type Exit, runInGroup } from "./processGroup.js"

export type Operation = "update" | "preview" | "refresh" | "destroy"

export interface RunSpec {
  readonly deploymentId: string
  readonly operation: Operation
  readonly repoURL: string
  readonly branch: string
  readonly repoDir: string
  readonly environment: Readonly<Record<string, string>>
  /** `org/project/stack`. */
  readonly stackRef: string
  readonly token: string
}

export interface RunHooks {
  readonly output: (text: string) => void
  readonly started: (pid: number) => void
}

/** How a run ended, when it ended by itself (a cancel or a timeout interrupts it instead). */
export type RunOutcome = { readonly status: "succeeded" } | { readonly status: "failed"; readonly reason: string }

/** The arguments of the `pulumi` command for an operation. */
export const pulumiArgs = (operation: Operation, stackRef: string): ReadonlyArray<string> => {
  const verb = operation === "update" ? "up" : operation
  return operation === "preview"
    ? [verb, "--non-interactive", "--stack", stackRef]
    : [verb, "--yes", "--non-interactive", "--stack", stackRef]
}

const describeExit = (step: string, exit: Exit) =>
  "spawnError" in exit
    ? `${step} could not start: ${exit.spawnError}`
    : exit.signal !== null
      ? `${step} was killed by ${exit.signal}`
      : `${step} exited with code ${exit.code}`

const ok = (exit: Exit) => !("spawnError" in exit) && exit.code === 0

/** A program directory inside the clone, after symlinks: a link out of the clone is refused. */
const programDir = (clone: string, repoDir: string): string | { readonly problem: string } => {
  const wanted = path.resolve(clone, repoDir === "" ? "." : repoDir)
  let real: string
  try {
    real = fs.realpathSync(wanted)
  } catch {
    return { problem: `source.repoDir ${JSON.stringify(repoDir)} does not exist in the repository` }
  }
  const root = fs.realpathSync(clone)
  if (real !== root && !real.startsWith(root + path.sep)) return { problem: "source.repoDir leads out of the repository" }
  if (!fs.existsSync(path.join(real, "Pulumi.yaml")) && !fs.existsSync(path.join(real, "Pulumi.yml"))) {
    return { problem: `source.repoDir ${JSON.stringify(repoDir || ".")} holds no Pulumi.yaml` }
  }
  return real
}

export const runDeployment = (settings: DeployConfigShape, spec: RunSpec, hooks: RunHooks): Effect.Effect<RunOutcome> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      fs.mkdirSync(settings.workDir, { recursive: true, mode: 0o700 })
      return fs.mkdtempSync(path.join(settings.workDir, `${spec.deploymentId}-`))
    }),
    (work) =>
      Effect.gen(function* () {
        const clone = path.join(work, "source")
        const home = path.join(work, "home")
        fs.mkdirSync(home, { mode: 0o700 })
        // node and npm from the server's own Node.js; the language host is looked up next to `pulumi`.
        const binDirs = [path.dirname(process.execPath), ...(settings.pulumiCli.includes("/") ? [path.dirname(path.resolve(settings.pulumiCli))] : [])]
        const baseEnv: Record<string, string> = {
          PATH: [...binDirs, settings.path].join(":"),
          HOME: settings.home._tag === "Some" ? settings.home.value : home,
          LANG: "C.UTF-8"
        }
        const step = (name: string, command: string, args: ReadonlyArray<string>, cwd: string, env: Record<string, string>) =>
          Effect.gen(function* () {
            hooks.output(`$ ${[name === "pulumi" ? "pulumi" : command, ...args].join(" ")}\n`)
            return yield* runInGroup({ command, args, cwd, env, onOutput: hooks.output, onStart: hooks.started })
          })

        const scheme = new URL(spec.repoURL).protocol.slice(0, -1)
        const cloned = yield* step(
          "git clone",
          "git",
          ["-c", "protocol.ext.allow=never", "clone", "--depth", "1", "--single-branch", "--no-tags", `--branch=${spec.branch}`, "--", spec.repoURL, clone],
          work,
          { ...baseEnv, GIT_TERMINAL_PROMPT: "0", GIT_ALLOW_PROTOCOL: scheme, GIT_CONFIG_NOSYSTEM: "1" }
        )
        if (!ok(cloned)) return { status: "failed", reason: describeExit("git clone", cloned) } as const

        const dir = programDir(clone, spec.repoDir)
        if (typeof dir !== "string") {
          hooks.output(`${dir.problem}\n`)
          return { status: "failed", reason: dir.problem } as const
        }
        const env = {
          ...baseEnv,
          ...spec.environment,
          PULUMI_HOME: path.join(work, "pulumi-home"),
          PULUMI_BACKEND_URL: settings.backendUrl,
          PULUMI_ACCESS_TOKEN: spec.token,
          PULUMI_SKIP_UPDATE_CHECK: "true",
          CI: "true"
        }
        if (fs.existsSync(path.join(dir, "package.json"))) {
          const installed = yield* step("npm ci", "npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], dir, env)
          if (!ok(installed)) return { status: "failed", reason: describeExit("npm ci", installed) } as const
        }
        const ran = yield* step("pulumi", settings.pulumiCli, pulumiArgs(spec.operation, spec.stackRef), dir, env)
        if (!ok(ran)) return { status: "failed", reason: describeExit(`pulumi ${spec.operation}`, ran) } as const
        return { status: "succeeded" } as const
      }),
    (work) => Effect.sync(() => fs.rmSync(work, { recursive: true, force: true }))
  )
