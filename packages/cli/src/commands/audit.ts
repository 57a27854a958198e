/** `attestation audit …`: the hash-chained audit log. */
import type { AuditEntry, AuditPage, AuditVerification } from "@itl-attestation/core/api"
import { Effect } from "effect"
import { callApi } from "../client.js"
import { SilentExit } from "../errors.js"
import { ExitCode } from "../exitCodes.js"
import { command, group } from "../framework/command.js"
import { option } from "../framework/options.js"
import { column, pageFooter, render, shortFingerprint, table, time } from "../output.js"
import { given, limit, offset } from "./shared.js"

const entryColumns = [
  column<AuditEntry>("id", (e) => String(e.id)),
  column<AuditEntry>("at", (e) => time(e.at)),
  // Machines act under their EK fingerprint, too long for a column.
  column<AuditEntry>("actor", (e) => shortFingerprint(e.actor)),
  column<AuditEntry>("action", (e) => e.action),
  column<AuditEntry>("target", (e) => (e.target_id === null ? e.target_type : `${e.target_type}:${e.target_id}`))
]

const pageTable = (page: AuditPage) =>
  `${table(entryColumns, page.entries)}\n${pageFooter(page.entries.length, page.total, page.offset, "entry", "entries")}`

const verificationLine = (v: AuditVerification) =>
  v.valid
    ? `valid: true, entries: ${v.entries} (sealed: ${v.sealed}, pending: ${v.pending})`
    : `INVALID at entry ${v.first_invalid_id ?? "?"} (entries: ${v.entries}, sealed: ${v.sealed}, pending: ${v.pending})`

const filter = (name: string, description: string) => option.text(name, { description })

const list = command({
  name: "list",
  summary: "List audit entries, newest first",
  examples: [
    { command: "attestation audit list --action machine.approved", description: "Every approval" },
    { command: "attestation audit list --target-type machine --target-id 0f6c2a5e-8d0b-4a57-9c1e-3b2f4d5a6e7f", description: "The history of one machine" }
  ],
  options: {
    actor: filter("actor", "Only entries by this actor"),
    action: filter("action", "Only this action (e.g. machine.approved)"),
    targetType: filter("target-type", "Only this kind of target (e.g. machine)"),
    targetId: filter("target-id", "Only this target"),
    limit,
    offset
  },
  run: ({ options, globals }) =>
    Effect.gen(function* () {
      const page = yield* callApi(globals, (api) =>
        api.audit.list({
          urlParams: {
            ...given("actor", options.actor),
            ...given("action", options.action),
            ...given("target_type", options.targetType),
            ...given("target_id", options.targetId),
            limit: options.limit,
            offset: options.offset
          }
        })
      )
      yield* render(globals.output, page, pageTable)
    })
})

const verify = command({
  name: "verify",
  summary: "Check the audit hash chain; exits 1 if it is broken",
  examples: [{ command: "attestation audit verify", description: "Recompute the chain over every entry" }],
  run: ({ globals }) =>
    Effect.gen(function* () {
      const verification = yield* callApi(globals, (api) => api.audit.verify())
      yield* render(globals.output, verification, verificationLine)
      // A broken chain is the answer, not an error, but scripts must see it in the exit code.
      if (!verification.valid) return yield* new SilentExit({ code: ExitCode.error })
    })
})

export const auditCommand = group({
  name: "audit",
  summary: "Read and verify the audit log",
  commands: [list, verify],
  examples: [{ command: "attestation audit verify", description: "Check that no entry was changed, inserted or removed" }]
})
