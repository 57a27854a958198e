/**
 * The agent's state directory: the TPM files (public areas, the AK's wrapped
 * private part, saved contexts), state.json (who this machine is to the
 * server) and session.json (the machine session token).
 *
 * The directory holds a bearer token and key blobs, so it must be private:
 * it is created 0700, and an existing one that the group or others can reach
 * is refused rather than silently fixed.
 */
import { Effect, Option, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { CliFailure, messageOf } from "../errors.js"

export const defaultStateDir = () => path.join(os.homedir(), ".itl-attestation", "agent")

/** File names inside the state directory (tpm2-tools run with it as cwd). */
export const FILES = {
  ekContext: "ek.ctx",
  ekPublic: "ek.pub",
  ekCertificate: "ek-cert.der",
  akContext: "ak.ctx",
  akPublic: "ak.pub",
  akPrivate: "ak.priv",
  akName: "ak.name",
  session: "session.ctx",
  credential: "cred.in",
  secret: "secret.bin",
  quote: "quote.msg",
  signature: "quote.sig",
  pcrs: "pcrs.out",
  state: "state.json",
  machineSession: "session.json"
} as const

export const KeyAlg = Schema.Literal("rsa", "ecc")
export type KeyAlg = typeof KeyAlg.Type

export const AkScheme = Schema.Literal("rsassa", "rsapss", "ecdsa")
export type AkScheme = typeof AkScheme.Type

/** What enroll learned; `machine_id` is null between creating the keys and the server's answer. */
export const AgentState = Schema.Struct({
  machine_id: Schema.NullOr(Schema.String),
  ek_fingerprint: Schema.NullOr(Schema.String),
  hostname: Schema.String,
  ek_alg: KeyAlg,
  ak_alg: KeyAlg,
  ak_scheme: AkScheme
})
export type AgentState = typeof AgentState.Type

export const MachineSession = Schema.Struct({
  machine_id: Schema.String,
  token: Schema.String,
  expires_at: Schema.String
})
export type MachineSession = typeof MachineSession.Type

const fail = (message: string) => new CliFailure({ message })

/**
 * Checks that `dir` is a private directory of ours; with `create`, makes it
 * (0700, parents too) when it does not exist yet.
 */
export const openStateDir = (dir: string, create: boolean): Effect.Effect<string, CliFailure> =>
  Effect.tryPromise({
    try: async () => {
      const absolute = path.resolve(dir)
      const existing = await fs.stat(absolute).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return undefined
        throw error
      })
      if (existing === undefined) {
        if (!create) throw fail(`no agent state in ${absolute}; run \`attestation agent enroll\``)
        await fs.mkdir(absolute, { recursive: true, mode: 0o700 })
        return absolute
      }
      if (!existing.isDirectory()) throw fail(`state directory ${absolute} is not a directory`)
      const mode = existing.mode & 0o777
      if ((mode & 0o077) !== 0) {
        throw fail(
          `state directory ${absolute} is accessible to group or others (mode ${mode.toString(8).padStart(4, "0")}); chmod 700 it or use another --state-dir`
        )
      }
      const uid = process.getuid?.()
      if (uid !== undefined && existing.uid !== uid) throw fail(`state directory ${absolute} belongs to another user (uid ${existing.uid})`)
      return absolute
    },
    catch: (error) => (error instanceof CliFailure ? error : fail(`cannot use state directory ${dir}: ${messageOf(error)}`))
  })

/** Writes `data` to `dir/name` with mode 0600, atomically (temp file, then rename). */
export const writePrivate = (dir: string, name: string, data: string | Uint8Array) =>
  Effect.tryPromise({
    try: async () => {
      const target = path.join(dir, name)
      const temp = `${target}.${process.pid}.tmp`
      await fs.writeFile(temp, data, { mode: 0o600 })
      await fs.chmod(temp, 0o600)
      await fs.rename(temp, target)
    },
    catch: (error) => fail(`cannot write ${path.join(dir, name)}: ${messageOf(error)}`)
  })

export const readFileIn = (dir: string, name: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(path.join(dir, name)),
    catch: (error) => fail(`cannot read ${path.join(dir, name)}: ${messageOf(error)}`)
  })

export const fileExists = (dir: string, name: string) =>
  Effect.promise(() =>
    fs.access(path.join(dir, name)).then(
      () => true,
      () => false
    )
  )

export const removeFiles = (dir: string, ...names: ReadonlyArray<string>) =>
  Effect.promise(() => Promise.all(names.map((name) => fs.rm(path.join(dir, name), { force: true })))).pipe(Effect.asVoid)

const readJson = <A, I>(dir: string, name: string, schema: Schema.Schema<A, I>): Effect.Effect<Option.Option<A>, CliFailure> =>
  Effect.gen(function* () {
    if (!(yield* fileExists(dir, name))) return Option.none()
    const text = (yield* readFileIn(dir, name)).toString("utf8")
    return yield* Schema.decodeUnknown(Schema.parseJson(schema))(text).pipe(
      Effect.map(Option.some),
      Effect.mapError(() => fail(`${path.join(dir, name)} is not a valid agent file; remove it and enroll again`))
    )
  })

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

export const readState = (dir: string) => readJson(dir, FILES.state, AgentState)

export const writeState = (dir: string, state: AgentState) => writePrivate(dir, FILES.state, json(state))

/** The state of an enrolled machine (one the server gave an id), or a failure saying to enroll. */
export const requireEnrolled = (dir: string): Effect.Effect<AgentState & { readonly machine_id: string }, CliFailure> =>
  readState(dir).pipe(
    Effect.flatMap((state) =>
      Option.isSome(state) && state.value.machine_id !== null
        ? Effect.succeed({ ...state.value, machine_id: state.value.machine_id })
        : Effect.fail(fail(`this machine is not enrolled (no machine id in ${path.join(dir, FILES.state)}); run \`attestation agent enroll\``))
    )
  )

export const readSession = (dir: string) => readJson(dir, FILES.machineSession, MachineSession)

export const writeSession = (dir: string, session: MachineSession) => writePrivate(dir, FILES.machineSession, json(session))
