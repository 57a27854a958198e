/**
 * `attestation login` / `logout`: save a URL and token as a profile
 * (profiles.ts), so operators need not export ITL_URL and ITL_TOKEN in every
 * shell. The token is checked against the server before it is saved.
 */
import { Console, Effect, Option, Redacted } from "effect"
import * as fs from "node:fs"
import { callApi } from "../client.js"
import { CliFailure, usageFailure } from "../errors.js"
import { ExitCode } from "../exitCodes.js"
import { command } from "../framework/command.js"
import { configFile, type Profile, readProfiles, writeProfiles } from "../profiles.js"

const load = Effect.suspend(() => {
  const read = readProfiles(process.env)
  return read.ok ? Effect.succeed(read.value) : Effect.fail(new CliFailure({ message: read.message }))
})

/** A token on stdin when none was given (`attestation login --url … < token-file`); never prompted on a terminal, never echoed. */
const tokenFromStdin = Effect.suspend(() => {
  if (process.stdin.isTTY === true) {
    return Effect.fail(usageFailure("give the token with ITL_TOKEN, --token, or on stdin (attestation login --url URL < token-file)"))
  }
  return Effect.try({
    try: () => fs.readFileSync(0, "utf8").trim(),
    catch: (error) => new CliFailure({ message: `cannot read the token from stdin: ${(error as Error).message}` })
  })
})

const login = command({
  name: "login",
  summary: "Save a server URL and operator token as a profile (mode 0600), after checking them",
  description:
    "The token comes from --token, ITL_TOKEN, or stdin. Profiles live in $XDG_CONFIG_HOME/itl-attestation/config.json " +
    "(default ~/.config/…). Flags and ITL_URL / ITL_TOKEN still win over a profile; --profile or ITL_PROFILE picks one.",
  examples: [
    { command: "attestation login --url https://attest.example.com < ~/admin-token", description: "Save the default profile" },
    { command: "ITL_TOKEN=itl_op_… attestation login --url https://staging:9000 --profile staging", description: "A second profile" }
  ],
  savesProfile: true,
  run: ({ globals }) =>
    Effect.gen(function* () {
      const token = Option.isSome(globals.token) ? Redacted.value(globals.token.value) : yield* tokenFromStdin
      if (token === "") return yield* usageFailure("the token is empty")
      const connection = { url: globals.url, token: Option.some(Redacted.make(token)), verbose: globals.verbose }
      // Any operator endpoint tells a valid token (200, or 403 when its scopes do not cover it) from a refused one (401).
      yield* callApi(connection, (api) => api.machines.list({ urlParams: { limit: 1, offset: 0 } })).pipe(
        Effect.catchIf(
          (failure) => failure.exitCode === ExitCode.denied && / \(HTTP 403\)/.test(failure.message),
          () => Effect.void
        )
      )
      const name = globals.profile
      const saved = yield* load
      const profile: Profile = { url: globals.url, token }
      yield* Effect.try({
        try: () => writeProfiles(saved.file, { ...saved.profiles, [name]: profile }),
        catch: (error) => new CliFailure({ message: `cannot save ${saved.file}: ${(error as Error).message}` })
      })
      yield* Console.log(`logged in to ${globals.url}: profile '${name}' saved in ${saved.file}`)
    })
})

const logout = command({
  name: "logout",
  summary: "Remove a saved profile and its token",
  examples: [{ command: "attestation logout --profile staging", description: "Forget the staging profile" }],
  savesProfile: true,
  run: ({ globals }) =>
    Effect.gen(function* () {
      const name = globals.profile
      const saved = yield* load
      if (saved.profiles[name] === undefined) return yield* new CliFailure({ message: `no profile named '${name}' in ${configFile(process.env)}`, exitCode: ExitCode.notFound })
      const { [name]: _removed, ...rest } = saved.profiles
      yield* Effect.try({
        try: () => writeProfiles(saved.file, rest),
        catch: (error) => new CliFailure({ message: `cannot save ${saved.file}: ${(error as Error).message}` })
      })
      yield* Console.log(`profile '${name}' removed from ${saved.file}`)
    })
})

export const loginCommands = [login, logout] as const
