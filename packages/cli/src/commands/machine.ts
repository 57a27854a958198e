/** `attestation machine …`: the machine registry and its lifecycle transitions. */
import { Command, Options } from "@effect/cli"
import { type Machine, type MachinePage, MachineStatus } from "@itl-attestation/core"
import { Effect } from "effect"
import { callApi } from "../client.js"
import { root } from "../globals.js"
import { cell, column, details, pageFooter, render, shortFingerprint, table, time } from "../output.js"
import { group } from "./group.js"
import { asMachineId, given, idArg, limit, offset } from "./shared.js"

const machineColumns = [
  column<Machine>("id", (m) => m.id),
  column<Machine>("hostname", (m) => m.hostname),
  column<Machine>("status", (m) => m.status),
  column<Machine>("ek_fingerprint", (m) => shortFingerprint(m.ek_fingerprint)),
  column<Machine>("registered_at", (m) => time(m.registered_at))
]

const pageTable = (page: MachinePage) =>
  `${table(machineColumns, page.machines)}\n${pageFooter(page.machines.length, page.total, page.offset, "machine")}`

const machineDetails = (m: Machine) =>
  details([
    ["id", m.id],
    ["hostname", m.hostname],
    ["status", m.status],
    ["status_reason", cell(m.status_reason)],
    ["ek_fingerprint", m.ek_fingerprint],
    ["ek_verified", String(m.ek_verified)],
    ["has_ek_certificate", String(m.has_ek_certificate)],
    ["registered_at", time(m.registered_at)],
    ["updated_at", time(m.updated_at)],
    ["approved_at", time(m.approved_at)],
    ["approved_by", cell(m.approved_by)],
    ["last_attested_at", time(m.last_attested_at)]
  ])

const list = Command.make(
  "list",
  {
    status: Options.choice("status", MachineStatus.literals).pipe(Options.withDescription("Only machines in this status"), Options.optional),
    hostname: Options.text("hostname").pipe(Options.withDescription("Only machines with this hostname"), Options.optional),
    limit,
    offset
  },
  (options) =>
    Effect.gen(function* () {
      const globals = yield* root
      const page = yield* callApi(globals, (api) =>
        api.machines.list({
          urlParams: { ...given("status", options.status), ...given("hostname", options.hostname), limit: options.limit, offset: options.offset }
        })
      )
      yield* render(globals.output, page, pageTable)
    })
).pipe(Command.withDescription("List registered machines"))

const get = Command.make("get", { id: idArg("Machine") }, ({ id }) =>
  Effect.gen(function* () {
    const globals = yield* root
    const machine = yield* callApi(globals, (api) => api.machines.get({ path: { id: asMachineId(id) } }))
    yield* render(globals.output, machine, machineDetails)
  })
).pipe(Command.withDescription("Show one machine"))

type Transition = "approve" | "reject" | "lock" | "unlock" | "revoke"

const transition = (action: Transition, description: string) =>
  Command.make(
    action,
    { id: idArg("Machine"), reason: Options.text("reason").pipe(Options.withDescription("Why (recorded in the audit log)"), Options.optional) },
    ({ id, reason }) =>
      Effect.gen(function* () {
        const globals = yield* root
        const machine = yield* callApi(globals, (api) => api.machines[action]({ path: { id: asMachineId(id) }, payload: given("reason", reason) }))
        yield* render(globals.output, machine, machineDetails)
      })
  ).pipe(Command.withDescription(description))

const remove = Command.make("delete", { id: idArg("Machine") }, ({ id }) =>
  Effect.gen(function* () {
    const globals = yield* root
    yield* callApi(globals, (api) => api.machines.delete({ path: { id: asMachineId(id) } }))
    // The API answers 204 with no body; say what happened in either format.
    yield* render(globals.output, { id, deleted: true }, () => `deleted machine ${id}`)
  })
).pipe(Command.withDescription("Delete a machine from the registry"))

export const machineCommand = group("machine", "Manage registered machines", [
  list,
  get,
  transition("approve", "Approve a pending machine"),
  transition("reject", "Reject a pending machine"),
  transition("lock", "Lock an approved or attested machine"),
  transition("unlock", "Unlock a locked machine (back to its previous status)"),
  transition("revoke", "Revoke a machine (terminal)"),
  remove
])
