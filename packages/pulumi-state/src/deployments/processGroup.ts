/**
 * One child process in a process group of its own, its output handed over as
 * it comes. Interrupting the effect stops the whole group (the CLI, its
 * language host and the program it runs): SIGINT first, so that `pulumi`
 * can cancel its update cleanly, then SIGKILL after a grace period. The
 * language host starts the program in a process group of its own, so the
 * leader's descendants (found in /proc before the leader goes and its
 * children are re-parented) are stopped as well.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"

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

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The processes below `root` now, from /proc (Linux); empty elsewhere. */
const descendants = (root: number): ReadonlyArray<number> => {
  let entries: Array<string>
  try {
    entries = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return []
  }
  const children = new Map<number, Array<number>>()
  for (const name of entries) {
    try {
      // The parent pid is the field after the ")" that closes the command name.
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      const list = children.get(ppid) ?? []
      list.push(Number(name))
      children.set(ppid, list)
    } catch {
      // gone meanwhile
    }
  }
  const found: Array<number> = []
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.push(child)
      walk(child)
    }
  }
  walk(root)
  return found
}

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
          if (pid === undefined) return resolve()
          const tree = new Set(descendants(pid))
          signalGroup(pid, "SIGINT")
          const started = Date.now()
          const poll = setInterval(() => {
            for (const p of descendants(pid)) tree.add(p)
            const left = [...tree].filter(alive)
            if (!groupAlive(pid) && left.length === 0) {
              clearInterval(poll)
              resolve()
            } else if (Date.now() - started > GRACE_MS) {
              signalGroup(pid, "SIGKILL")
              for (const p of left) {
                try {
                  process.kill(p, "SIGKILL")
                } catch {
                  // already gone
                }
              }
            }
          }, 100)
        })
    )
  })
