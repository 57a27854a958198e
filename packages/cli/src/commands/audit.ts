/** `attestation audit …`: the hash-chained audit log. */
import { Command, Options } from "@effect/cli"
import type { AuditEntry, AuditPage, AuditVerification } from "@itl-attestation/core"
import { Effect } from "effect"
import { callApi } from "../client.js"
import { SilentExit } from "../errors.js"
import { root } from "../globals.js"
import { column, pageFooter, render, shortFingerprint, table, time } from "../output.js"
import { group } from "./group.js"
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
  v.valid ? `valid: true, entries: ${v.entries}` : `INVALID at entry ${v.first_invalid_id ?? "?"} (entries: ${v.entries})`

const filter = (name: string, description: string) => Options.text(name).pipe(Options.withDescription(description), Options.optional)

const list = Command.make(
  "list",
  {
    actor: filter("actor", "Only entries by this actor"),
    action: filter("action", "Only this action (e.g. machine.approved)"),
    targetType: filter("target-type", "Only this kind of target (e.g. machine)"),
    targetId: filter("target-id", "Only this target"),
    limit,
    offset
  },
  (options) =>
    Effect.gen(function* () {
      const globals = yield* root
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
).pipe(Command.withDescription("List audit entries, newest first"))

const verify = Command.make("verify", {}, () =>
  Effect.gen(function* () {
    const globals = yield* root
    const verification = yield* callApi(globals, (api) => api.audit.verify())
    yield* render(globals.output, verification, verificationLine)
    // A broken chain is the answer, not an error, but scripts must see it in the exit code.
    if (!verification.valid) return yield* new SilentExit({ code: 1 })
  })
).pipe(Command.withDescription("Check the audit hash chain; exits 1 if it is broken"))

export const auditCommand = group("audit", "Read and verify the audit log", [list, verify])
