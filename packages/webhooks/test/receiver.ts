/**
 * A real webhook endpoint for the tests: a node:http server on 127.0.0.1 that
 * keeps every request (raw body, headers) and answers as the test says,
 * possibly never (a hanging endpoint) until released.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
  readonly json: any
}

export type Reply = { status: number; body?: string; headers?: Record<string, string> } | "hang"

export interface Receiver {
  readonly url: string
  readonly received: Array<Received>
  /** What to answer the n-th request (0-based); default 200. */
  reply: (request: Received, index: number) => Reply
  /** Answers every hanging request with 200 now. */
  readonly release: () => void
  readonly hanging: () => number
  readonly close: () => Promise<void>
}

export const startReceiver = async (): Promise<Receiver> => {
  const hung: Array<http.ServerResponse> = []
  const receiver: Receiver = {
    url: "",
    received: [],
    reply: () => ({ status: 200, body: "ok" }),
    release: () => hung.splice(0).forEach((res) => res.writeHead(200).end("released")),
    hanging: () => hung.filter((res) => !res.writableEnded && !res.destroyed).length,
    close: () =>
      new Promise<void>((resolve) => {
        hung.splice(0).forEach((res) => res.destroy())
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      let json: any
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      const request: Received = { path: req.url ?? "/", headers: req.headers, body, json }
      const index = receiver.received.length
      receiver.received.push(request)
      const reply = receiver.reply(request, index)
      if (reply === "hang") {
        hung.push(res)
        return
      }
      res.writeHead(reply.status, reply.headers ?? {}).end(reply.body ?? "")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  ;(receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return receiver
}

/** Waits (bounded) until `check` holds; throws with `what` otherwise. */
export const until = async <A>(what: string, check: () => A | undefined | false | Promise<A | undefined | false>, ms = 30_000): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
