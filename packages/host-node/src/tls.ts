/**
 * TLS and mTLS for host-node. With ITL_TLS_CLIENT_CA, clients may present a
 * certificate; one that verifies against that CA identifies an operator by its
 * subject DN. Clients without one still connect and use a bearer token.
 */
import { HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, Option } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type { TLSSocket } from "node:tls"
import type { HostConfigShape } from "./HostConfig.js"

const read = (variable: string, file: string) =>
  Effect.try({
    try: () => fs.readFileSync(file),
    catch: (error) => new Error(`${variable}: cannot read ${file}: ${(error as Error).message}`)
  })

export const makeServerFactory = (config: HostConfigShape) =>
  Effect.gen(function* () {
    if (Option.isNone(config.tlsCert) || Option.isNone(config.tlsKey)) {
      return { scheme: "http" as const, create: () => http.createServer() }
    }
    const cert = yield* read("ITL_TLS_CERT", config.tlsCert.value)
    const key = yield* read("ITL_TLS_KEY", config.tlsKey.value)
    const ca = Option.isSome(config.tlsClientCa) ? yield* read("ITL_TLS_CLIENT_CA", config.tlsClientCa.value) : undefined
    const options: https.ServerOptions = ca
      ? { cert, key, ca, requestCert: true, rejectUnauthorized: false }
      : { cert, key }
    yield* Effect.try({
      try: () => https.createServer(options).close(),
      catch: (error) => new Error(`ITL_TLS_CERT/ITL_TLS_KEY: ${(error as Error).message}`)
    })
    return { scheme: "https" as const, create: () => https.createServer(options) }
  })

/** RFC 4514 order (most specific first), e.g. `CN=admin,OU=IT,O=ITLusions`. */
export const subjectDn = (cert: crypto.X509Certificate) =>
  cert.subject
    .split("\n")
    .filter((part) => part.length > 0)
    .reverse()
    .map((part) => part.replace(/,/g, "\\,"))
    .join(",")

/** Reads a verified client certificate's subject from the request's TLS socket. */
export const clientCertificateSubject = (request: HttpServerRequest.HttpServerRequest): Option.Option<string> => {
  const socket = NodeHttpServerRequest.toIncomingMessage(request).socket as TLSSocket
  if (typeof socket.getPeerCertificate !== "function" || socket.authorized !== true) return Option.none()
  const peer = socket.getPeerCertificate()
  if (!peer || !peer.raw) return Option.none()
  return Option.some(subjectDn(new crypto.X509Certificate(peer.raw)))
}
