/**
 * `attestation agent …`: the machine side. Runs on the machine to attest,
 * drives its TPM with tpm2-tools, and talks to the server as that machine
 * (no operator token).
 */
import { Command, Options } from "@effect/cli"
import type { Machine, RegisteredMachine } from "@itl-attestation/core"
import { Effect } from "effect"
import { attest } from "../agent/attest.js"
import { enroll } from "../agent/enroll.js"
import { stateDir, stateDirOption } from "../agent/sdk.js"
import { KeyAlg } from "../agent/state.js"
import { status, type AgentStatus } from "../agent/status.js"
import { asCliFailure } from "../agent/tpm2.js"
import { root } from "../globals.js"
import { cell, details, render, time } from "../output.js"
import { group } from "./group.js"

const keyAlg = (name: string, what: string) =>
  Options.choice(name, KeyAlg.literals).pipe(Options.withDescription(`${what} algorithm (default rsa)`), Options.optional)

/** Registration answers only part of the record (RegisteredMachine); the rest shows as empty. */
const machineDetails = (m: Machine | (RegisteredMachine & { readonly hostname: string })) =>
  "ak_name" in m ? fullDetails(m) : details([
    ["id", m.id],
    ["hostname", m.hostname],
    ["status", m.status],
    ["ek_fingerprint", m.ek_fingerprint],
    ["ek_verified", String(m.ek_verified)],
    ["ek_cert_verified", String(m.ek_cert_verified)]
  ])

const fullDetails = (m: Machine) =>
  details([
    ["id", m.id],
    ["hostname", m.hostname],
    ["status", m.status],
    ["status_reason", cell(m.status_reason)],
    ["ek_fingerprint", m.ek_fingerprint],
    ["ek_verified", String(m.ek_verified)],
    ["ek_cert_verified", String(m.ek_cert_verified)],
    ["ak_name", cell(m.ak_name)],
    ["approved_at", time(m.approved_at)],
    ["last_attested_at", time(m.last_attested_at)]
  ])

/** What the machine can do next, given its status. */
const nextStep = (m: Pick<Machine, "id" | "status">) => {
  switch (m.status) {
    case "pending_approval":
      return `awaiting approval: an operator must run \`attestation machine approve ${m.id}\``
    case "approved":
      return "approved, not awaiting approval: run `attestation agent attest`"
    case "attested":
      return "attested, not awaiting approval"
    default:
      return `not awaiting approval: the machine is ${m.status} and cannot attest`
  }
}

const enrollCommand = Command.make(
  "enroll",
  {
    hostname: Options.text("hostname").pipe(Options.withDescription("Hostname to register (default: this host's name)"), Options.optional),
    stateDir: stateDirOption,
    ekAlg: keyAlg("ek-alg", "EK"),
    akAlg: keyAlg("ak-alg", "AK")
  },
  (options) =>
    Effect.gen(function* () {
      const globals = yield* root
      const dir = yield* stateDir(options.stateDir, true)
      const enrolled = yield* asCliFailure(
        enroll({ dir, url: globals.url, hostname: options.hostname, ekAlg: options.ekAlg, akAlg: options.akAlg })
      )
      const shown = "ak_name" in enrolled.machine ? enrolled.machine : { ...enrolled.machine, hostname: enrolled.hostname }
      yield* render(globals.output, shown, (m) =>
        [
          machineDetails(m),
          "",
          m.ek_verified
            ? `EK and AK proven by credential activation${enrolled.activated ? "" : " (earlier)"}`
            : "EK not proven: run `attestation agent enroll` again",
          nextStep(m)
        ].join("\n")
      )
    })
).pipe(Command.withDescription("Create the EK and AK with tpm2-tools, register this machine and prove its TPM"))

const attestCommand = Command.make("attest", { stateDir: stateDirOption }, (options) =>
  Effect.gen(function* () {
    const globals = yield* root
    const dir = yield* stateDir(options.stateDir)
    const { result, sessionFile } = yield* asCliFailure(attest(dir, globals.url))
    // The token stays in the session file: not on stdout, where logs would keep it.
    const shown = { machine: result.machine, expires_at: result.expires_at, session_file: sessionFile }
    yield* render(globals.output, shown, (r) =>
      `${machineDetails(r.machine)}\n\nsession token saved to ${r.session_file} (expires ${time(r.expires_at)})`
    )
  })
).pipe(Command.withDescription("Quote the PCRs with the AK over a server nonce; saves the session token"))

const statusTable = (s: AgentStatus) => {
  const local = details([
    ["state_dir", s.state_dir],
    ["machine_id", cell(s.state.machine_id)],
    ["ek_fingerprint", cell(s.state.ek_fingerprint)],
    ["hostname", s.state.hostname],
    ["keys", `EK ${s.state.ek_alg}, AK ${s.state.ak_alg} (${s.state.ak_scheme})`],
    ["session", s.session === null ? "none" : `${s.session.live ? "expires" : "expired"} ${time(s.session.expires_at)}`]
  ])
  const server =
    s.server === null
      ? []
      : [
          "",
          "server:",
          details([
            ["status", s.server.status],
            ["status_reason", cell(s.server.status_reason)],
            ["last_attested_at", time(s.server.last_attested_at)],
            ["failed_attestations", String(s.server.failed_attestations)]
          ])
        ]
  return [local, ...server, ...(s.note === null ? [] : ["", s.note])].join("\n")
}

const statusCommand = Command.make("status", { stateDir: stateDirOption }, (options) =>
  Effect.gen(function* () {
    const globals = yield* root
    const dir = yield* stateDir(options.stateDir)
    const current = yield* status(dir, globals.url)
    yield* render(globals.output, current, statusTable)
  })
).pipe(Command.withDescription("Show the local agent state and, with a live session, the server's view"))

type AnyCommand = Command.Command<any, any, any, any>

/** The agent's own commands, then those extensions add (`agentCommands` of their CLI modules). */
export const agentCommand = (extensions: ReadonlyArray<AnyCommand> = []) =>
  group("agent", "Run on a machine: enroll its TPM, attest, read its secrets", [enrollCommand, attestCommand, statusCommand, ...extensions])
