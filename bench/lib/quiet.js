/**
 * How much of the machine other work took while we measured: the CPU time
 * charged to processes on the machine (/proc/stat) minus what our own spent — the
 * bench process, the system under test, and PostgreSQL's processes for our
 * database plus its background workers. Linux only; elsewhere undefined.
 * Figures taken while other processes compete for the cores are low.
 */
import * as fs from "node:fs"

const machineTicks = () => {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
  // user + nice + system: time charged to processes; interrupt time (the loopback network's
  // softirqs) is charged to none, and would otherwise count as other work.
  return { total: fields.reduce((a, b) => a + b, 0), busy: fields[0] + fields[1] + fields[2] }
}

const processTicks = (pid) => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
    return Number(fields[11]) + Number(fields[12]) // utime + stime
  } catch {
    return undefined // gone
  }
}

/** PostgreSQL processes that work for us: backends of `database`, and the server's own background workers. */
const ourPostgresPids = (database) => {
  const pids = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let title
    try {
      title = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ")
    } catch {
      continue
    }
    if (!title.startsWith("postgres: ") && !title.includes("bin/postgres ")) continue
    const isBackend = /\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]/.test(title)
    if (!isBackend || (database !== undefined && title.includes(` ${database} `))) pids.push(Number(entry))
  }
  return pids
}

const snapshot = (pids) => new Map(pids.map((pid) => [pid, processTicks(pid)]))

/**
 * Starts watching; the returned function gives the share (%) of all cores that
 * other work used since then.
 * @param pids       our processes (the bench itself is added)
 * @param database   the PostgreSQL database name we use, if any
 */
export const watchOtherWork = (pids, database) => {
  if (!fs.existsSync("/proc/stat")) return () => undefined
  const ours = () => [process.pid, ...pids, ...(database === undefined ? [] : ourPostgresPids(database))]
  const startMachine = machineTicks()
  const start = snapshot(ours())
  return () => {
    // Looked up again: a connection pool may have opened backends meanwhile (all their time is ours).
    const end = snapshot(ours())
    const machine = machineTicks()
    let ourTicks = 0
    for (const [pid, ticks] of end) if (ticks !== undefined) ourTicks += ticks - (start.get(pid) ?? 0)
    const total = machine.total - startMachine.total
    if (total <= 0) return undefined
    return Math.max(0, (100 * (machine.busy - startMachine.busy - ourTicks)) / total)
  }
}
