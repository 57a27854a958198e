/** `attestation extensions …`: what the server loaded. */
import type { ExtensionList } from "@itl-attestation/core/api"
import { Effect } from "effect"
import { callApi } from "../client.js"
import { command, group } from "../framework/command.js"
import { column, count, render, table } from "../output.js"

type Info = ExtensionList["extensions"][number]

const extensionColumns = [
  column<Info>("name", (e) => e.name),
  column<Info>("version", (e) => e.version),
  column<Info>("description", (e) => e.description)
]

const list = command({
  name: "list",
  summary: "List the extensions the server loaded",
  examples: [{ command: "attestation extensions list", description: "Name, version and description of each" }],
  run: ({ globals }) =>
    Effect.gen(function* () {
      const extensions = yield* callApi(globals, (api) => api.system.extensions())
      yield* render(globals.output, extensions, (l) => `${table(extensionColumns, l.extensions)}\n${count(l.total, "extension")}`, (l) =>
        l.extensions.map((e) => e.name)
      )
    })
})

export const extensionsCommand = group({
  name: "extensions",
  summary: "Server extensions",
  commands: [list],
  examples: [{ command: "attestation extensions list", description: "What the server runs besides the core" }]
})
