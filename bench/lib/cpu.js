/**
 * CPU time (user + system) spent by processes between two readings, from
 * /proc/<pid>/stat, as bench/lib/quiet.js reads it: the target process, and
 * the PostgreSQL backends serving our database (on PGlite the engine runs in
 * the target process, so there is nothing separate). Linux only; elsewhere the
 * figures are undefined.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"

const TICK_MS = (() => {
  try {
    return 1000 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
  } catch {
    return 10
  }
})()

const ticksOf = (pid) => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined // gone
  }
}

/** PostgreSQL backends connected to `database` (their process title names it). */
export const backendsOf = (database) => {
  const pids = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const title = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ")
      if (title.startsWith("postgres: ") && title.includes(` ${database} `)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/**
 * Starts a reading when `start()` is called and ends it at `end()`; `result()`
 * then gives { targetMs, databaseMs } (databaseMs undefined without a database name).
 */
export const cpuWindow = (targetPids, database) => {
  if (!fs.existsSync("/proc/stat")) return { start: () => {}, end: () => {}, result: () => ({}) }
  let begin
  let finish
  const read = () => {
    const pids = database === undefined ? [] : backendsOf(database)
    return { target: new Map(targetPids.map((pid) => [pid, ticksOf(pid)])), database: new Map(pids.map((pid) => [pid, ticksOf(pid)])) }
  }
  // A backend opened during the window started at 0; one closed during it is missed (pools keep theirs open).
  const spent = (before, after) => {
    let ticks = 0
    for (const [pid, value] of after) if (value !== undefined) ticks += value - (before.get(pid) ?? 0)
    return ticks * TICK_MS
  }
  return {
    start: () => { begin = read() },
    end: () => { finish = read() },
    result: () =>
      begin === undefined || finish === undefined
        ? {}
        : { targetMs: spent(begin.target, finish.target), databaseMs: database === undefined ? undefined : spent(begin.database, finish.database) }
  }
}
