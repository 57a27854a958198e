/**
 * Server calls for the agent. Machines have no operator token: requests carry
 * none, or the machine session token. A refusal keeps the server's error code
 * in the line (`not_approved: … (HTTP 403)`), since that code is what a person
 * or a script acts on; everything else is reported as by the operator commands.
 */
import { Effect, Either, Option, Redacted } from "effect"
import type { HttpApi, HttpApiGroup } from "@effect/platform"
import { apiCaller, callApi, type ClientOf, type CoreClient } from "../client.js"
import { CliFailure } from "../errors.js"
import { exitCodeForStatus } from "../exitCodes.js"

/** The core's error classes (http/ApiError.ts) and their HTTP statuses. */
const STATUS: Record<string, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  PayloadTooLarge: 413,
  TooManyRequests: 429,
  ServiceUnavailable: 503
}

export interface ApiRefusal {
  readonly _tag: string
  readonly error: string
  readonly message: string
}

const isRefusal = (error: unknown): error is ApiRefusal =>
  typeof error === "object" &&
  error !== null &&
  "_tag" in error &&
  typeof error._tag === "string" &&
  error._tag in STATUS &&
  "error" in error &&
  typeof error.error === "string" &&
  "message" in error &&
  typeof error.message === "string"

export const refusalLine = (refusal: ApiRefusal) => `${refusal.error}: ${refusal.message} (HTTP ${STATUS[refusal._tag] ?? "?"})`

/** Success as `Right`, a refusal of the server's as `Left`, any other failure as it was. */
const refusalAsLeft = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Either.Either<A, ApiRefusal>, E> =>
  effect.pipe(
    Effect.map(Either.right),
    Effect.catchAll((error) => (isRefusal(error) ? Effect.succeed(Either.left(error)) : Effect.fail(error)))
  )

/** A refusal as the one-line failure `<code>: <message> (HTTP <status>)<addendum>`, with the exit code of its status. */
export const refusalFailure = (refusal: ApiRefusal, addendum = "") =>
  new CliFailure({ message: `${refusalLine(refusal)}${addendum}`, exitCode: exitCodeForStatus(STATUS[refusal._tag] ?? 500) })

const failOnRefusal = <A>(result: Either.Either<A, ApiRefusal>) =>
  Either.match(result, {
    onLeft: (refusal) => Effect.fail(refusalFailure(refusal)),
    onRight: Effect.succeed
  })

/** The server a machine calls: its URL, or the command's globals (so that --verbose traces the calls too). */
export type MachineServer = string | { readonly url: string; readonly verbose?: boolean }

const connectionTo = (server: MachineServer, token: Option.Option<string>) =>
  typeof server === "string"
    ? { url: server, token: Option.map(token, Redacted.make) }
    : { url: server.url, token: Option.map(token, Redacted.make), verbose: server.verbose === true }

/**
 * Calls the API as a machine; the server's refusals come back as `Left`
 * (for the caller to handle or report), transport and protocol failures as a
 * `CliFailure`.
 */
export const tryAgentApi = <A, E>(
  server: MachineServer,
  sessionToken: Option.Option<string>,
  call: (client: CoreClient) => Effect.Effect<A, E>
): Effect.Effect<Either.Either<A, ApiRefusal>, CliFailure> => callApi(connectionTo(server, sessionToken), (client) => refusalAsLeft(call(client)))

/** Like `tryAgentApi`, with a refusal reported as the one-line failure `<code>: <message> (HTTP <status>)`. */
export const agentApi = <A, E>(server: MachineServer, sessionToken: Option.Option<string>, call: (client: CoreClient) => Effect.Effect<A, E>) =>
  tryAgentApi(server, sessionToken, call).pipe(Effect.flatMap(failOnRefusal))

/**
 * How a machine proves who it is to machine endpoints: its session token
 * (`Authorization: Bearer`), or — only against a server in the compatibility
 * mode `ITL_MACHINE_AUTH=ek-fingerprint-header` — its EK fingerprint alone
 * (`X-EK-Fingerprint`, and no Authorization header, which would be taken for
 * a session token).
 */
export type MachineCredential =
  | { readonly _tag: "Session"; readonly token: string }
  | { readonly _tag: "EkFingerprint"; readonly fingerprint: string }

/**
 * An extension's machine endpoints, as `tryAgentApi` calls the core's: the
 * client is derived from the extension's own HttpApi.
 */
export const machineApiCaller =
  <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, ApiE, ApiR>(api: HttpApi.HttpApi<Id, Groups, ApiE, ApiR>) => {
    const call = apiCaller(api)
    const tryCall = <A, E>(
      server: MachineServer,
      credential: MachineCredential,
      use: (client: ClientOf<typeof api>) => Effect.Effect<A, E>
    ): Effect.Effect<Either.Either<A, ApiRefusal>, CliFailure> =>
      call(
        connectionTo(server, credential._tag === "Session" ? Option.some(credential.token) : Option.none()),
        (client) => refusalAsLeft(use(client as unknown as ClientOf<typeof api>)),
        credential._tag === "EkFingerprint" ? { headers: { "x-ek-fingerprint": credential.fingerprint } } : {}
      ) as unknown as Effect.Effect<Either.Either<A, ApiRefusal>, CliFailure>
    return {
      /** Success as `Right`, a refusal of the server's as `Left`. */
      try: tryCall,
      /** A refusal reported as the one-line failure `<code>: <message> (HTTP <status>)`. */
      call: <A, E>(server: MachineServer, credential: MachineCredential, use: (client: ClientOf<typeof api>) => Effect.Effect<A, E>) =>
        tryCall(server, credential, use).pipe(Effect.flatMap(failOnRefusal))
    }
  }
