/**
 * `attestation keyring rewrap`: moves everything the master key seals (the
 * core's data keys, every extension's sealed data) to the current master key,
 * so that ITL_MASTER_KEY_PREVIOUS can be removed. The server does the work in
 * batches; this command calls it until a pass is complete and shows progress:
 * one updating line on a terminal, one line per batch otherwise.
 */
import { DEFAULT_REWRAP_LIMIT, MAX_REWRAP_LIMIT, type MasterKeyRewrapResult, type RewrapCursor } from "@itl-attestation/core/api"
import { Console, Effect } from "effect"
import { callApi } from "../client.js"
import { CliFailure } from "../errors.js"
import { render } from "../output.js"
import { command, group } from "../framework/command.js"
import { option } from "../framework/options.js"

const batchSize = option.integer("batch-size", {
  description: `Rows per request (1-${MAX_REWRAP_LIMIT})`,
  placeholder: "N",
  min: 1,
  max: MAX_REWRAP_LIMIT,
  default: DEFAULT_REWRAP_LIMIT
})

interface Totals {
  rewrapped: number
  failed: number
  failures: Array<MasterKeyRewrapResult["failures"][number]>
  last: MasterKeyRewrapResult | undefined
}

const progressLine = (totals: Totals, remaining: number) =>
  `rewrapped: ${totals.rewrapped}, failed: ${totals.failed}, remaining: ${remaining}`

/** On a terminal the line is rewritten in place (carriage return, erase line); elsewhere each update is its own line. */
const showProgress = (line: string, tty: boolean) =>
  tty ? Effect.sync(() => void process.stdout.write(`\r\u001b[2K${line}`)) : Console.log(line)

const rewrap = command({
  name: "rewrap",
  summary: "Re-seal everything the master key protects under the current ITL_MASTER_KEY (admin); resumable",
  examples: [{ command: "attestation keyring rewrap --batch-size 500", description: "After rotating ITL_MASTER_KEY, before removing ITL_MASTER_KEY_PREVIOUS" }],
  options: { batchSize },
  run: ({ options: { batchSize }, globals }) =>
  Effect.gen(function* () {
    const tty = globals.output === "table" && process.stdout.isTTY === true
    const totals: Totals = { rewrapped: 0, failed: 0, failures: [], last: undefined }
    let cursor: RewrapCursor | null = null
    do {
      const pass: MasterKeyRewrapResult = yield* callApi(globals, (api) =>
        api.keyring.rewrap({ payload: { limit: batchSize, cursor } })
      )
      totals.rewrapped += pass.rewrapped
      totals.failed += pass.failed
      totals.failures.push(...pass.failures)
      totals.last = pass
      cursor = pass.cursor
      if (globals.output === "table") yield* showProgress(progressLine(totals, pass.remaining), tty)
    } while (cursor !== null)
    const last = totals.last!
    if (tty) yield* Effect.sync(() => void process.stdout.write("\n"))
    const summary = { key_id: last.key_id, rewrapped: totals.rewrapped, failed: totals.failed, failures: totals.failures, remaining: last.remaining, tables: last.tables }
    yield* render(globals.output, summary, (r) => `done: ${r.rewrapped} rewrapped, ${r.remaining} remaining (master key ${r.key_id})`, () => [])
    if (last.remaining > 0) {
      const first = totals.failures[0]
      return yield* new CliFailure({
        message: `${last.remaining} sealed values are still not under the current master key${first === undefined ? "" : ` (e.g. ${first.table} ${first.id}: ${first.reason})`}; keep ITL_MASTER_KEY_PREVIOUS`
      })
    }
  })
})

export const keyringCommand = group({
  name: "keyring",
  summary: "The master key and what it seals",
  commands: [rewrap],
  examples: [{ command: "attestation keyring rewrap", description: "Move every sealed value to the current master key" }]
})
