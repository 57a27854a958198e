/**
 * A real Prometheus server (the Debian `prometheus` binary) for the tests: its
 * own temporary directory for the configuration and the TSDB, a free loopback
 * port, one scrape job `attestation` every second, and a small client for the
 * HTTP API (`/api/v1/query`, `/api/v1/targets`).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const PROMETHEUS = "/usr/bin/prometheus"
export const SCRAPE_INTERVAL_SECONDS = 1

export interface Sample {
  readonly metric: Record<string, string>
  readonly value: number
}

export interface Target {
  readonly labels: Record<string, string>
  readonly scrapeUrl: string
  readonly health: string
  readonly lastError: string
}

export interface Prometheus {
  readonly url: string
  /** An instant query through `GET /api/v1/query`, exactly as written; `time` in Unix seconds (default: now). */
  readonly query: (expression: string, time?: number) => Promise<ReadonlyArray<Sample>>
  readonly targets: () => Promise<ReadonlyArray<Target>>
  /** What the server wrote on stderr so far (its log), for failure messages. */
  readonly log: () => string
  readonly stop: () => Promise<void>
}

/** Prometheus writes sample values as strings, with `+Inf`, `-Inf` and `NaN` spelled its way. */
const promValue = (text: string) => (text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : Number(text))

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** Starts Prometheus scraping `target` (host:port) at `/metrics`; resolves when its API answers. */
export const startPrometheus = async (target: string): Promise<Prometheus> => {
  if (!fs.existsSync(PROMETHEUS)) {
    throw new Error(`${PROMETHEUS} is missing: install the Debian package \`prometheus\` (apt-get install prometheus) to run this test`)
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-prometheus-"))
  const config = [
    "global:",
    `  scrape_interval: ${SCRAPE_INTERVAL_SECONDS}s`,
    `  scrape_timeout: ${SCRAPE_INTERVAL_SECONDS}s`,
    "scrape_configs:",
    "  - job_name: attestation",
    "    metrics_path: /metrics",
    "    static_configs:",
    `      - targets: ["${target}"]`,
    ""
  ].join("\n")
  fs.writeFileSync(path.join(dir, "prometheus.yml"), config)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let stderr = ""
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`
    ],
    { cwd: dir, stdio: ["ignore", "ignore", "pipe"] }
  )
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  let exited: string | undefined
  const gone = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = `exited with ${code ?? signal}`
      resolve()
    })
  )

  const stop = async () => {
    if (exited === undefined) {
      child.kill("SIGTERM")
      await gone
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }

  const api = async (pathAndQuery: string) => {
    const response = await fetch(url + pathAndQuery)
    const body = (await response.json()) as { status: string; data: any; error?: string; errorType?: string }
    if (response.status !== 200 || body.status !== "success") {
      throw new Error(`Prometheus ${pathAndQuery}: ${response.status} ${body.errorType ?? ""} ${body.error ?? ""}`)
    }
    return body.data
  }

  // Ready when the HTTP API answers; a process that exits first (bad flag, bad configuration) fails at once.
  const deadline = Date.now() + 60_000
  for (;;) {
    if (exited !== undefined) {
      fs.rmSync(dir, { recursive: true, force: true })
      throw new Error(`prometheus ${exited}:\n${stderr}`)
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.status === 200, () => false)
    if (ready) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`prometheus did not become ready:\n${stderr}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }

  return {
    url,
    query: async (expression, time) => {
      const data = await api(`/api/v1/query?query=${encodeURIComponent(expression)}${time === undefined ? "" : `&time=${time}`}`)
      if (data.resultType !== "vector") throw new Error(`${expression}: expected a vector, got ${data.resultType}`)
      return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({
        metric: r.metric,
        value: promValue(r.value[1])
      }))
    },
    targets: async () => ((await api("/api/v1/targets?state=active")).activeTargets as ReadonlyArray<Target>),
    log: () => stderr,
    stop
  }
}
