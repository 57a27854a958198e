/**
 * Checkpoint PATCHes as the pulumi CLI sends them, over raw HTTP (bench/pulumi.js, part 2): a synthetic state
 * of a given size, one resource per line as the CLI's own serialization has it, and the three upload shapes:
 * a full `checkpoint`, a `checkpointverbatim` (exact text kept by the server as the base for deltas) and a
 * `checkpointdelta` (text edits against that base plus the SHA-256 of the result). Bodies are gzipped before
 * the clock starts, as the CLI sends them.
 */
import * as crypto from "node:crypto"
import { performance } from "node:perf_hooks"
import { gzipSync } from "node:zlib"

const ORG = "itlusions"
const PROJECT = "bench"

/** A state of about `bytes` bytes: `count` resources of similar size; `round` changes one of them. */
export const syntheticState = (bytes, round = 0) => {
  const filler = "x".repeat(400)
  const resource = (i, value) => {
    const urn = `urn:pulumi:bench::${PROJECT}::pulumi-nodejs:dynamic:Resource::item-${i}`
    return JSON.stringify({ urn, custom: true, id: `item-${i}`, type: "pulumi-nodejs:dynamic:Resource", inputs: { label: value, filler }, outputs: { label: value, filler } })
  }
  const count = Math.max(1, Math.round(bytes / (resource(0, "same").length + 2)))
  const resources = []
  for (let i = 0; i < count; i++) resources.push(resource(i, i === round % count ? `changed-${round}` : "same"))
  // An UntypedDeployment, as the CLI's verbatim and delta uploads carry it (the base text of the deltas).
  const head = `{"version":3,"deployment":{"manifest":{"time":"2026-01-01T00:00:00Z","magic":"bench","version":"v3.274.1"},"metadata":{},"resources":[\n`
  return `${head}${resources.join(",\n")}\n]}}`
}

/** The edits that turn `before` into `after`: one span over the bytes that differ (gotextdiff's TextEdit). */
export const textDelta = (before, after) => {
  const a = Buffer.from(before)
  const b = Buffer.from(after)
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--
    endB--
  }
  const point = (offset) => {
    const text = a.subarray(0, offset)
    const line = text.filter((c) => c === 10).length
    const lastNewline = text.lastIndexOf(10)
    return { line: line + 1, column: offset - lastNewline, offset }
  }
  return [{ Span: { uri: "", start: point(start), end: point(endA) }, NewText: b.subarray(start, endB).toString() }]
}

export const pulumiCall = async (url, method, path, { token, updateToken, body, gzip = false } = {}) => {
  const raw = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
  const payload = raw === undefined ? undefined : gzip ? gzipSync(raw) : raw
  const response = await fetch(url + path, {
    method,
    headers: {
      accept: "application/vnd.pulumi+9",
      "content-type": "application/json",
      authorization: updateToken !== undefined ? `update-token ${updateToken}` : `token ${token}`,
      ...(gzip ? { "content-encoding": "gzip" } : {})
    },
    ...(payload === undefined ? {} : { body: payload })
  })
  const text = await response.text()
  if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`)
  return text === "" ? undefined : JSON.parse(text)
}

/** Creates and starts one real (non-dry-run) update; returns its id and lease token. */
const startUpdate = async (url, token, stackPath) => {
  const { updateID } = await pulumiCall(url, "POST", `${stackPath}/update`, {
    token,
    body: {
      name: PROJECT, runtime: "nodejs", main: "", description: "",
      options: { localPolicyPackPaths: null, color: "never", dryRun: false, parallel: 16, showConfig: false, showReplacementSteps: false, showNames: false, summary: false, debug: false },
      config: {}, metadata: { message: "bench", environment: {} }
    }
  })
  const started = await pulumiCall(url, "POST", `${stackPath}/update/${updateID}`, { token, body: { tags: {} } })
  return { updateID, updateToken: started.token }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/**
 * For one state size: `patches` PATCHes of each shape within one update per shape, each state differing from
 * the one before in one resource. Returns medians in ms (the first PATCH of an update, which sends the base,
 * is reported apart). Delta is skipped (undefined) when the server does not advertise it.
 */
export const benchCheckpoints = async (url, token, bytes, patches, deltaAdvertised) => {
  const stackName = `checkpoints-${bytes}-${crypto.randomBytes(3).toString("hex")}`
  await pulumiCall(url, "POST", `/api/stacks/${ORG}/${PROJECT}`, { token, body: { stackName, tags: {} } })
  const stackPath = `/api/stacks/${ORG}/${PROJECT}/${stackName}`
  const states = Array.from({ length: patches + 1 }, (_, round) => syntheticState(bytes, round))
  // The body is gzipped before the clock starts, as the CLI has it ready; the time is the server's answer.
  const timedGzip = async (path, updateToken, body) => {
    const gz = gzipSync(Buffer.from(body))
    const start = performance.now()
    const response = await fetch(url + path, {
      method: "PATCH",
      headers: { accept: "application/vnd.pulumi+9", "content-type": "application/json", "content-encoding": "gzip", authorization: `update-token ${updateToken}` },
      body: gz
    })
    const text = await response.text()
    const ms = performance.now() - start
    if (response.status >= 400) throw new Error(`PATCH ${path}: ${response.status} ${text.slice(0, 300)}`)
    return ms
  }

  const result = { bytes: Buffer.byteLength(states[0]), resources: states[0].split("\n").length - 2 }

  // Full: every PATCH carries the whole deployment.
  {
    const { updateID, updateToken } = await startUpdate(url, token, stackPath)
    const times = []
    for (let i = 0; i <= patches; i++) {
      const body = `{"isInvalid":false,${states[i].slice(1)}`
      times.push(await timedGzip(`${stackPath}/update/${updateID}/checkpoint`, updateToken, body))
    }
    await pulumiCall(url, "POST", `${stackPath}/update/${updateID}/complete`, { updateToken, body: { status: "succeeded" } })
    result.full = { firstMs: times[0], medianMs: median(times.slice(1)) }
  }

  // Verbatim base, then deltas.
  if (deltaAdvertised) {
    const { updateID, updateToken } = await startUpdate(url, token, stackPath)
    const first = await timedGzip(
      `${stackPath}/update/${updateID}/checkpointverbatim`,
      updateToken,
      `{"version":3,"untypedDeployment":${states[0]},"sequenceNumber":1}`
    )
    const times = []
    for (let i = 1; i <= patches; i++) {
      const body = JSON.stringify({
        version: 3,
        checkpointHash: crypto.createHash("sha256").update(states[i]).digest("hex"),
        sequenceNumber: i + 1,
        deploymentDelta: textDelta(states[i - 1], states[i])
      })
      times.push(await timedGzip(`${stackPath}/update/${updateID}/checkpointdelta`, updateToken, body))
    }
    await pulumiCall(url, "POST", `${stackPath}/update/${updateID}/complete`, { updateToken, body: { status: "succeeded" } })
    const exported = await pulumiCall(url, "GET", `${stackPath}/export`, { token })
    if (JSON.stringify(exported.deployment) !== JSON.stringify(JSON.parse(states[patches]).deployment)) {
      throw new Error(`${bytes} bytes: after the deltas, export is not the last state`)
    }
    result.delta = { firstMs: first, medianMs: median(times) }
  }
  await pulumiCall(url, "DELETE", `${stackPath}?force=true`, { token })
  return result
}
