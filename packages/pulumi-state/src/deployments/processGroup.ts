/**
 * One child process in a process group of its own, its output handed over as
 * it comes. Interrupting the effect stops the whole group (the CLI, its
 * language host and the program it runs): SIGINT first, so that `pulumi`
 * can cancel its update cleanly, then SIGKILL after a grace period. The
 * group is killed again once the leader exits, so nothing it started lives on.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"

export interface Spawned {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  /** The complete environment: nothing of the server's own is inherited. */
  readonly env: Readonly<Record<string, string>>
  readonly onOutput: (text: string) => void
  readonly onStart?: (pid: number) => void
}

export type Exit = { readonly code: number | null; readonly signal: string | null } | { readonly spawnError: string }

/** How long a stopped group gets to exit after SIGINT before SIGKILL. */
export const GRACE_MS = 5_000

const signalGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false // ESRCH: the group is gone
  }
}

const groupAlive = (pid: number) => signalGroup(pid, 0 as unknown as NodeJS.Signals)

export const runInGroup = (spec: Spawned): Effect.Effect<Exit> =>
  Effect.async<Exit>((resume) => {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      detached: true, // setsid: the child leads a new process group
      stdio: ["ignore", "pipe", "pipe"]
    })
    let done = false
    child.stdout.setEncoding("utf8").on("data", (text: string) => spec.onOutput(text))
    child.stderr.setEncoding("utf8").on("data", (text: string) => spec.onOutput(text))
    child.on("error", (error) => {
      if (done) return
      done = true
      resume(Effect.succeed({ spawnError: error.message }))
    })
    if (child.pid !== undefined) spec.onStart?.(child.pid)
    child.on("close", (code, signal) => {
      if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL")
      if (done) return
      done = true
      resume(Effect.succeed({ code, signal }))
    })
    return Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          const pid = child.pid
          if (pid === undefined || !groupAlive(pid)) return resolve()
          signalGroup(pid, "SIGINT")
          const started = Date.now()
          const poll = setInterval(() => {
            if (!groupAlive(pid)) {
              clearInterval(poll)
              resolve()
            } else if (Date.now() - started > GRACE_MS) {
              signalGroup(pid, "SIGKILL")
            }
          }, 100)
        })
    )
  })
