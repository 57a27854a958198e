/** `attestation extensions …`: what the server loaded. */
import { Command } from "@effect/cli"
import type { ExtensionList } from "@itl-attestation/core"
import { Effect } from "effect"
import { callApi } from "../client.js"
import { root } from "../globals.js"
import { group } from "./group.js"
import { column, count, render, table } from "../output.js"

type Info = ExtensionList["extensions"][number]

const extensionColumns = [
  column<Info>("name", (e) => e.name),
  column<Info>("version", (e) => e.version),
  column<Info>("description", (e) => e.description)
]

const list = Command.make("list", {}, () =>
  Effect.gen(function* () {
    const globals = yield* root
    const extensions = yield* callApi(globals, (api) => api.system.extensions())
    yield* render(globals.output, extensions, (l) => `${table(extensionColumns, l.extensions)}\n${count(l.total, "extension")}`)
  })
).pipe(Command.withDescription("List the extensions the server loaded"))

export const extensionsCommand = group("extensions", "Server extensions", [list])
