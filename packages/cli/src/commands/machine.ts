/** `attestation machine …`: the machine registry and its lifecycle transitions. */
import { type Machine, type MachinePage, MachineStatus, type RegisteredMachine } from "@itl-attestation/core/api"
import { Console, DateTime, Duration, Effect } from "effect"
import * as fs from "node:fs"
import { callApi } from "../client.js"
import { CliFailure } from "../errors.js"
import { command, group } from "../framework/command.js"
import { option } from "../framework/options.js"
import { cell, column, count, details, pageFooter, printable, render, shortFingerprint, table, time } from "../output.js"
import { progress } from "../progress.js"
import { allPages, asMachineId, given, idArg, limit, offset } from "./shared.js"

const ID = "0f6c2a5e-8d0b-4a57-9c1e-3b2f4d5a6e7f"

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

const list = command({
  name: "list",
  summary: "List registered machines",
  examples: [
    { command: "attestation machine list --status pending_approval", description: "Machines waiting for an operator's approval" },
    { command: "attestation machine list --all -o id", description: "The id of every machine, one per line" }
  ],
  options: {
    status: option.choice("status", MachineStatus.literals, { description: "Only machines in this status" }),
    hostname: option.text("hostname", { description: "Only machines with this hostname" }),
    all: option.boolean("all", { description: "Every page, not just one (--limit and --offset are ignored)" }),
    limit,
    offset
  },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const filters = { ...given("status", options.status), ...given("hostname", options.hostname) }
      if (!options.all) {
        const page = yield* callApi(globals, (api) => api.machines.list({ urlParams: { ...filters, limit: options.limit, offset: options.offset } }))
        return yield* render(globals.output, page, pageTable)
      }
      const shown = progress()
      const machines = yield* allPages(
        (page) => Effect.map(callApi(globals, (api) => api.machines.list({ urlParams: { ...filters, ...page } })), (p) => ({ total: p.total, items: p.machines })),
        (fetched, total) => shown.update(`fetched ${fetched} of ${count(total, "machine")}…`)
      )
      yield* shown.done
      yield* render(globals.output, { machines, total: machines.length, offset: 0, limit: machines.length }, pageTable)
    })
})

/** What `--watch` reports when it changes. */
const watched = (m: Machine) => `${m.status}\u0000${m.status_reason ?? ""}\u0000${m.last_attested_at ?? ""}`

const changeLine = (before: Machine, after: Machine) => {
  const at = time(DateTime.unsafeMake(Date.now()))
  const status = before.status === after.status ? `status: ${after.status}` : `status: ${before.status} → ${after.status}`
  const reason = after.status_reason === null || after.status_reason === before.status_reason ? "" : ` (reason: ${printable(after.status_reason)})`
  const attested = after.last_attested_at !== before.last_attested_at ? `, attested at ${time(after.last_attested_at)}` : ""
  return `${at}  ${status}${reason}${attested}`
}

const get = command({
  name: "get",
  summary: "Show one machine; --watch follows its status live",
  examples: [
    { command: `attestation machine get ${ID}`, description: "Everything the registry knows about a machine" },
    { command: `attestation machine get ${ID} --watch`, description: "Print a line whenever its status changes (Ctrl-C stops)" }
  ],
  args: { id: idArg("Machine") },
  options: {
    watch: option.boolean("watch", { description: "Keep polling and print each status change; ends when the machine is revoked" }),
    interval: option.integer("interval", { description: "Seconds between polls with --watch (1-3600)", placeholder: "SECONDS", min: 1, max: 3600, default: 2 })
  },
  run: ({ args, options, globals }) =>
    Effect.gen(function* () {
      const fetch = callApi(globals, (api) => api.machines.get({ path: { id: asMachineId(args.id) } }))
      let current = yield* fetch
      // Watching with -o json or yaml: one JSON object per line from the first (NDJSON), for scripts that read a stream.
      const stream = options.watch && (globals.output === "json" || globals.output === "yaml")
      yield* stream ? Console.log(JSON.stringify(current)) : render(globals.output, current, machineDetails)
      if (!options.watch) return
      while (current.status !== "revoked") {
        yield* Effect.sleep(Duration.seconds(options.interval))
        const next = yield* fetch
        if (watched(next) !== watched(current)) {
          // One line per change: a JSON object per line (NDJSON) for scripts, a sentence for people.
          yield* stream ? Console.log(JSON.stringify(next)) : Console.log(changeLine(current, next))
        }
        current = next
      }
    })
})

const readPem = (file: string, what: string) =>
  Effect.try({
    try: () => fs.readFileSync(file === "-" ? 0 : file, "utf8"),
    catch: (error) => new CliFailure({ message: `cannot read the ${what} from ${file}: ${(error as Error).message}` })
  })

const registeredDetails = (r: { readonly machine: RegisteredMachine; readonly created: boolean }) =>
  `${details([
    ["id", r.machine.id],
    ["status", r.machine.status],
    ["ek_fingerprint", r.machine.ek_fingerprint],
    ["ek_verified", String(r.machine.ek_verified)]
  ])}\n\n${r.created ? "registered: awaiting an operator's approval" : "already registered: nothing changed"}`

const register = command({
  name: "register",
  summary: "Register a machine by its EK public key (what the agent does on the machine)",
  description:
    "For machines without the agent, and for trying the platform: registration needs no token. The EK public key is a PEM " +
    "SubjectPublicKeyInfo file, or the base64 TPM2B_PUBLIC written by tpm2_createek -u. Use `attestation agent enroll` on a " +
    "machine with a TPM: it also proves the EK by credential activation.",
  examples: [
    { command: "attestation machine register --hostname node-1 --ek-public ek.pem -o id", description: "Register and print only the new id" }
  ],
  options: {
    hostname: option.text("hostname", { description: "The machine's hostname", required: true }),
    ekPublic: option.text("ek-public", { description: "File with the EK public key (PEM, or - for stdin)", placeholder: "FILE", required: true }),
    ekCertificate: option.text("ek-certificate", { description: "File with the EK certificate (PEM or base64 DER)", placeholder: "FILE" })
  },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const ek_public = yield* readPem(options.ekPublic, "EK public key")
      const certificate = options.ekCertificate === undefined ? undefined : yield* readPem(options.ekCertificate, "EK certificate")
      const registered = yield* callApi(globals, (api) =>
        api.machineRegistration.register({ payload: { hostname: options.hostname, ek_public, ...given("ek_certificate", certificate) } })
      )
      yield* render(globals.output, registered, registeredDetails)
    })
})

type Transition = "approve" | "reject" | "lock" | "unlock" | "revoke"

const transition = (action: Transition, summary: string, example: string) =>
  command({
    name: action,
    summary,
    examples: [{ command: `attestation machine ${action} ${ID} --reason "${example}"`, description: `${summary}, with the reason in the audit log` }],
    args: { id: idArg("Machine") },
    options: { reason: option.text("reason", { description: "Why (recorded in the audit log)" }) },
    run: ({ args, options, globals }) =>
      Effect.gen(function* () {
        const machine = yield* callApi(globals, (api) => api.machines[action]({ path: { id: asMachineId(args.id) }, payload: given("reason", options.reason) }))
        yield* render(globals.output, machine, machineDetails)
      })
  })

const remove = command({
  name: "delete",
  summary: "Delete a machine from the registry",
  examples: [{ command: `attestation machine delete ${ID}`, description: "Forget a decommissioned machine (its audit entries stay)" }],
  args: { id: idArg("Machine") },
  run: ({ args, globals }) =>
    Effect.gen(function* () {
      yield* callApi(globals, (api) => api.machines.delete({ path: { id: asMachineId(args.id) } }))
      // The API answers 204 with no body; say what happened in every format.
      yield* render(globals.output, { id: args.id, deleted: true }, () => `deleted machine ${args.id}`)
    })
})

export const machineCommand = group({
  name: "machine",
  summary: "Manage registered machines",
  examples: [{ command: "attestation machine list", description: "The registry, newest first" }],
  commands: [
    list,
    get,
    register,
    transition("approve", "Approve a pending machine", "EK checked against the purchase order"),
    transition("reject", "Reject a pending machine", "unknown hardware"),
    transition("lock", "Lock an approved or attested machine", "under investigation"),
    transition("unlock", "Unlock a locked machine (back to its previous status)", "investigation closed"),
    transition("revoke", "Revoke a machine (terminal)", "decommissioned"),
    remove
  ]
})

