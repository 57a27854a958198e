/**
 * The v2 extension contract beyond routes: the core range is checked at load,
 * fatal errors are recognised by tag (also from another copy of the core),
 * changes through AuditedChanges write their audit row in the same
 * transaction, and the context an extension may require is narrow — checked
 * by compiling a fixture (test/typecheck) whose forbidden uses must not compile.
 */
import { CORE_VERSION } from "@itl-attestation/core"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { api, fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"
import {
  fatalExtension,
  fatalFromAnotherCopyExtension,
  futureCoreExtension,
  notesExtension
} from "../../../test-support/testExtension.js"

let server: TestServer

beforeAll(async () => {
  server = await startServer({ extensions: [futureCoreExtension, notesExtension] })
})
afterAll(() => server?.stop())

describe("extension contract v2", () => {
  it("reports the core version it implements, from the package itself", () => {
    const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../package.json"), "utf8"))
    expect(CORE_VERSION).toBe(manifest.version)
  })

  it("refuses an extension built for another core, naming the range, and loads the rest", async () => {
    expect(server.info.report.failedExtensions).toEqual([
      { name: "future_core", reason: `it requires @itl-attestation/core ^99.0.0; this is ${CORE_VERSION}` }
    ])
    const listed = await api(server).get("/api/v1/extensions")
    expect(listed.body.extensions.map((e: { name: string }) => e.name)).toEqual(["test_notes"])
  })

  it("records an extension's change, its audit row and nothing when it fails", async () => {
    const admin = api(server, server.adminToken)
    const registered = await api(server).post("/api/v1/machines/register", { ek_public: fakeEkPem(), hostname: "contract-1" })
    const id = registered.body.machine.id as string
    const note = await admin.post(`/api/v1/test-notes/machines/${id}/notes`, { text: "audited" })
    expect(note.status).toBe(201)
    const rows = await server.sql<{ actor: string; action: string; target_id: string; details: unknown }>(
      "SELECT actor, action, target_id, details FROM audit_log WHERE action = 'test_notes.note_added'"
    )
    expect(rows).toEqual([{ actor: "bootstrap-admin", action: "test_notes.note_added", target_id: String(note.body.id), details: { machine_id: id } }])

    const unknown = await admin.post(`/api/v1/test-notes/machines/00000000-0000-4000-8000-000000000000/notes`, { text: "nobody" })
    expect(unknown.status).toBe(404)
    const after = await server.sql("SELECT * FROM audit_log WHERE action = 'test_notes.note_added'")
    expect(after).toHaveLength(1)
  })

  it("stops the start on a FatalExtensionError, also one made by another copy of the core", async () => {
    for (const extension of [fatalExtension, fatalFromAnotherCopyExtension]) {
      await expect(startServer({ extensions: [extension] })).rejects.toThrow(
        `${extension.name}: the key cannot open the stored data`
      )
    }
  })

  it("does not compile extensions that reach past their context or leave documented routes unserved", async () => {
    const tsc = path.resolve(__dirname, "../../../node_modules/typescript/bin/tsc")
    const project = path.resolve(__dirname, "typecheck")
    const result = await promisify(execFile)(process.execPath, [tsc, "-p", project]).then(
      () => ({ code: 0, output: "" }),
      (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout })
    )
    expect(result.output).toBe("")
    expect(result.code).toBe(0)
  })
})
