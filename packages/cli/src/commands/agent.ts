/**
 * `attestation agent …`: the machine side. Runs on the machine to attest,
 * drives its TPM with tpm2-tools, and talks to the server as that machine
 * (no operator token).
 */
import type { Machine, RegisteredMachine } from "@itl-attestation/core/api"
import { Effect, Option } from "effect"
import { attest } from "../agent/attest.js"
import { enroll } from "../agent/enroll.js"
import { stateDir, stateDirOption } from "../agent/sdk.js"
import { KeyAlg } from "../agent/state.js"
import { status, type AgentStatus } from "../agent/status.js"
import { asCliFailure } from "../agent/tpm2.js"
import { command, group } from "../framework/command.js"
import { option } from "../framework/options.js"
import type { NodeSpec } from "../framework/spec.js"
import { cell, details, render, time } from "../output.js"

const keyAlg = (name: string, what: string) =>
  option.choice(name, KeyAlg.literals, { description: `${what} algorithm (default rsa; ecc is P-256)`, placeholder: "ALG" })

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

const enrollCommand = command({
  name: "enroll",
  summary: "Create the EK and AK with tpm2-tools, register this machine and prove its TPM",
  examples: [
    { command: "ITL_URL=https://attest.example.com attestation agent enroll", description: "Enroll this machine with the TPM at /dev/tpmrm0 (TPM2TOOLS_TCTI)" },
    { command: "attestation agent enroll --ek-alg ecc --ak-alg ecc", description: "Use P-256 keys instead of RSA-2048" }
  ],
  options: {
    hostname: option.text("hostname", { description: "Hostname to register (default: this host's name)" }),
    stateDir: stateDirOption,
    ekAlg: keyAlg("ek-alg", "EK"),
    akAlg: keyAlg("ak-alg", "AK")
  },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const dir = yield* stateDir(options.stateDir, true)
      const enrolled = yield* asCliFailure(
        enroll({ dir, url: globals, hostname: Option.fromNullable(options.hostname), ekAlg: Option.fromNullable(options.ekAlg), akAlg: Option.fromNullable(options.akAlg) })
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
})

const attestCommand = command({
  name: "attest",
  summary: "Quote the PCRs with the AK over a server nonce; saves the session token",
  examples: [{ command: "attestation agent attest", description: "Attest after an operator approved this machine (and after each boot)" }],
  options: { stateDir: stateDirOption },
  run: ({ options, globals }) =>
  Effect.gen(function* () {
    const dir = yield* stateDir(options.stateDir)
    const { result, sessionFile } = yield* asCliFailure(attest(dir, globals))
    // The token stays in the session file: not on stdout, where logs would keep it.
    const shown = { machine: result.machine, expires_at: result.expires_at, session_file: sessionFile }
    yield* render(globals.output, shown, (r) =>
      `${machineDetails(r.machine)}\n\nsession token saved to ${r.session_file} (expires ${time(r.expires_at)})`
    )
  })
})

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

const statusCommand = command({
  name: "status",
  summary: "Show the local agent state and, with a live session, the server's view",
  examples: [{ command: "attestation agent status", description: "Is this machine enrolled, approved, attested?" }],
  options: { stateDir: stateDirOption },
  run: ({ options, globals }) =>
  Effect.gen(function* () {
    const dir = yield* stateDir(options.stateDir)
    const current = yield* status(dir, globals)
    yield* render(globals.output, current, statusTable)
  })
})

/** The agent's own commands, then those extensions add (`agentCommands` of their CLI modules). */
export const agentCommand = <N extends { readonly name: string }>(extensions: ReadonlyArray<N> = []) =>
  group({
    name: "agent",
    summary: "Run on a machine: enroll its TPM, attest, read its secrets",
    commands: [enrollCommand, attestCommand, statusCommand, ...(extensions as unknown as ReadonlyArray<NodeSpec>)],
    examples: [{ command: "attestation agent enroll && attestation agent attest", description: "Enroll, then attest once approved" }]
  })
