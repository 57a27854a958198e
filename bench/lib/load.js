/**
 * Load generation with autocannon: one continuous run at a fixed number of
 * connections; responses arriving in the first `warmupSeconds` are not
 * counted, those arriving in the next `durationSeconds` are. Requests/s and
 * the p99 latency (exact, from every response's time) come from that window.
 *
 * One run, not a warm-up run followed by a measured run, on purpose: ending a
 * run closes its connections with requests in flight, and the server cancels
 * those requests — which can stall it for seconds (see docs/performance.md).
 *
 * Anything but a good 2xx at any time — a non-2xx status, a socket error, a
 * timeout, a 2xx body that fails `check` — is counted and reported as a problem.
 */
import autocannon from "autocannon"
import { performance } from "node:perf_hooks"

/**
 * @param options.url         base URL (http://127.0.0.1:port)
 * @param options.connections concurrent connections, one request in flight on each
 * @param options.method      HTTP method of every request
 * @param options.headers     headers of every request
 * @param options.next        () => { path, body? } for the next request, or undefined when out of inputs
 * @param options.check       optional (body) => boolean for 2xx bodies
 * @param options.sequence    instead of method/next/check: (sample) => autocannon `requests` (a sequence per
 *                            connection); the caller calls sample(ms) once per completed sequence, and the
 *                            figures count sequences, not responses; a sequence's onResponse reports a bad
 *                            body with sample.bad()
 * @param options.window      optional { start(), end() } called when the measured window opens and closes
 *                            (CPU time is read there)
 */
export const measure = async (options) => {
  const windowStart = options.warmupSeconds * 1000
  const windowEnd = windowStart + options.durationSeconds * 1000
  const latencies = []
  let startedAt = performance.now()
  let badBodies = 0
  let exhausted = false
  let instance
  const inWindow = () => {
    const at = performance.now() - startedAt
    return at >= windowStart && at < windowEnd
  }
  const sample = (milliseconds) => {
    if (inWindow()) latencies.push(milliseconds)
  }
  sample.bad = () => badBodies++

  const request = {
    setupRequest: (request) => {
      const next = options.next()
      if (next !== undefined) return { ...request, ...next }
      // Out of inputs: stop, and make this request visibly fail rather than repeat one.
      exhausted = true
      instance?.stop()
      return { ...request, method: "GET", path: "/bench-inputs-exhausted", body: undefined }
    },
    ...(options.check === undefined
      ? {}
      : { onResponse: (status, body) => { if (status < 300 && !options.check(body)) badBodies++ } })
  }
  instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.warmupSeconds + options.durationSeconds,
    method: options.method,
    headers: options.headers,
    requests: options.sequence === undefined ? [request] : options.sequence(sample)
  })
  const timers = []
  let windowEnded = false
  const endWindow = () => {
    if (windowEnded) return
    windowEnded = true
    options.window?.end()
  }
  instance.on("start", () => {
    startedAt = performance.now()
    if (options.window !== undefined) timers.push(setTimeout(options.window.start, windowStart), setTimeout(endWindow, windowEnd))
  })
  if (options.sequence === undefined) {
    instance.on("response", (_client, status, _bytes, milliseconds) => {
      if (status >= 200 && status < 300) sample(milliseconds)
    })
  }
  const result = await instance
  for (const timer of timers) clearTimeout(timer)
  endWindow() // the run can end a little before the timer fires

  const problems = []
  if (result.non2xx > 0) {
    const codes = Object.entries(result.statusCodeStats).filter(([code]) => !code.startsWith("2"))
    problems.push(`${result.non2xx} non-2xx responses (${codes.map(([code, { count }]) => `${code}: ${count}`).join(", ")})`)
  }
  if (result.errors > 0) problems.push(`${result.errors} connection errors (${result.timeouts} of them timeouts)`)
  if (badBodies > 0) problems.push(`${badBodies} 2xx responses with an unexpected body`)
  if (exhausted) problems.push("ran out of pre-generated inputs (raise BENCH_KEYS)")
  if (latencies.length === 0) problems.push("no response completed in the measured window")

  latencies.sort((a, b) => a - b)
  return {
    requestsPerSecond: latencies.length / options.durationSeconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    responses: latencies.length,
    latencies,
    problems
  }
}

/** The p-quantile of sorted latencies (exact: the smallest value with at least p of them at or below it). */
export const percentile = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.ceil(sorted.length * p) - 1])
