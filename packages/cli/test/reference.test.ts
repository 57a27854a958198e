/**
 * docs/cli.md below its marker is generated from the command definitions
 * (core and secret_vault): it cannot drift from the commands.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { expect, it } from "vitest"

const SCRIPT = fileURLToPath(new URL("../scripts/reference.mjs", import.meta.url))

it("docs/cli.md's reference is what the command definitions generate", async () => {
  const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, [SCRIPT, "--check"], (error, _stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stderr })
    )
  )
  expect(result.stderr).toBe("")
  expect(result.code).toBe(0)
})
