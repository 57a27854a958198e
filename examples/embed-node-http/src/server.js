/**
 * A plain node:http server: requests under /attestation go to the platform's
 * Node request listener, everything else to the application's own handler.
 * The platform is told its prefix, so it sees (and documents) the full paths.
 */
import { createRequestListener } from "@itl-attestation/host-node"
import * as http from "node:http"
import { once } from "node:events"

export const PREFIX = "/attestation"

/** True for `/attestation` and `/attestation/…`, not for `/attestationx`. */
const underPrefix = (url = "/") => {
  const path = url.split("?")[0]
  return path === PREFIX || path.startsWith(`${PREFIX}/`)
}

/** The application's own part: plain text, its own 404. */
const own = (req, res) => {
  if (req.method === "GET" && (req.url === "/" || req.url?.startsWith("/?"))) {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" })
    return res.end("hello from the application\n")
  }
  res.writeHead(404, { "content-type": "text/plain; charset=utf-8" })
  res.end(`the application has nothing at ${req.method} ${req.url}\n`)
}

/**
 * @param {{ port?: number, host?: string, pool?: import("pg").Pool, config?: any }} options
 *   `pool`: an existing pg pool for the platform (never ended by it); `config`: the
 *   platform's AppConfig layer (default: ITL_* variables).
 */
export const start = async ({ port = 0, host = "127.0.0.1", pool, config } = {}) => {
  const attestation = createRequestListener({
    extensions: [],
    prefix: PREFIX,
    ...(pool ? { database: { pool } } : {}),
    ...(config ? { config } : {})
  })
  // Listening before the platform is ready is fine: its requests wait for it (or get 503 if it fails to start).
  const server = http.createServer((req, res) => (underPrefix(req.url) ? attestation.listener(req, res) : own(req, res)))
  server.listen(port, host)
  await once(server, "listening")
  const address = server.address()
  return {
    url: `http://${address.address}:${address.port}`,
    ready: attestation.ready,
    close: async () => {
      await new Promise((resolve) => server.close(resolve))
      await attestation.dispose()
    }
  }
}
