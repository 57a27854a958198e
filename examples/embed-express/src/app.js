/**
 * An Express application that has its own routes, its own authentication
 * (an `X-Api-Key` header) and its own error format (`{ ok: false, problem }`),
 * and mounts the attestation platform under /attestation.
 *
 * Two things matter when mounting:
 * - Express strips the mount path from `req.url`; the platform was told its
 *   prefix (`prefix: "/attestation"`), so it is given the original URL back.
 * - Body parsers must not run before the platform: they would consume the
 *   request body the platform reads itself. Here `express.json()` is only
 *   installed on the application's own `/api` router.
 */
import { createRequestListener } from "@itl-attestation/host-node"
import express from "express"
import { once } from "node:events"

export const PREFIX = "/attestation"

/** The application's own error body; the platform's routes keep theirs (`{ error, message }`). */
const problem = (res, status, kind, detail) => res.status(status).json({ ok: false, problem: { kind, detail } })

/** The application's own API: a tiny in-memory order book behind an API key. */
const ownApi = (apiKey) => {
  const orders = []
  const router = express.Router()
  router.use((req, res, next) => (req.get("x-api-key") === apiKey ? next() : problem(res, 401, "unauthenticated", "send X-Api-Key")))
  router.use(express.json({ limit: "16kb" }))
  router.get("/orders", (_req, res) => res.json({ ok: true, orders }))
  router.post("/orders", (req, res) => {
    if (typeof req.body?.item !== "string" || req.body.item === "") return problem(res, 400, "invalid", "item: a non-empty string")
    const order = { id: orders.length + 1, item: req.body.item }
    orders.push(order)
    res.status(201).json({ ok: true, order })
  })
  router.get("/boom", () => {
    throw new Error("something broke inside the application")
  })
  return router
}

/**
 * @param {{ apiKey: string, attestation: { listener: (req: any, res: any) => void } }} options
 */
export const createApp = ({ apiKey, attestation }) => {
  const app = express()
  app.disable("x-powered-by")
  app.get("/", (_req, res) => res.json({ ok: true, service: "shop" }))
  app.use("/api", ownApi(apiKey))
  app.use(PREFIX, (req, res) => {
    req.url = req.originalUrl
    attestation.listener(req, res)
  })
  // The application's own 404 and error handlers; the platform answers its own paths itself.
  app.use((req, res) => problem(res, 404, "not-found", `${req.method} ${req.path}`))
  app.use((error, _req, res, _next) => {
    const status = typeof error?.status === "number" && error.status >= 400 && error.status < 500 ? error.status : 500
    problem(res, status, status === 500 ? "internal" : "bad-request", status === 500 ? "see the server log" : error.message)
  })
  return app
}

/**
 * Starts the application on `port` with the platform mounted.
 *
 * @param {{ port?: number, host?: string, apiKey: string, pool?: import("pg").Pool, config?: any }} options
 *   `pool`: the application's own pg pool, shared with the platform (which never ends it);
 *   without it the platform uses ITL_DATABASE_URL or its embedded PGlite.
 *   `config`: the platform's AppConfig layer (default: read from ITL_* variables).
 */
export const start = async ({ port = 0, host = "127.0.0.1", apiKey, pool, config }) => {
  const attestation = createRequestListener({
    extensions: [],
    prefix: PREFIX,
    ...(pool ? { database: { pool } } : {}),
    ...(config ? { config } : {})
  })
  const server = createApp({ apiKey, attestation }).listen(port, host)
  await once(server, "listening")
  const address = server.address()
  return {
    url: `http://${address.address}:${address.port}`,
    ready: attestation.ready,
    close: async () => {
      // Stop taking requests, then stop the platform (it never ends `pool`; the application does).
      await new Promise((resolve) => server.close(resolve))
      await attestation.dispose()
    }
  }
}
