/**
 * Authorization is enforced by types: a handler whose service needs the proof
 * of a scope (`Authorized<"widgets:write">`) on an endpoint that does not
 * declare that scope's policy does not compile. One `tsc --noEmit` over
 * fixtures/policy: missingPolicy.ts must fail on exactly that, while the same
 * code with the policy declared (declaredPolicy.ts) and the test extension
 * compile.
 */
import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const here = path.dirname(fileURLToPath(import.meta.url))
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")

const compile = () =>
  new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, [tsc, "-p", path.join(here, "fixtures/policy/tsconfig.json"), "--pretty", "false"], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (error.code as number), output: stdout + stderr })
    })
  })

describe("typed policies", () => {
  it("a handler on an endpoint without the policy its service needs does not compile", async () => {
    const { code, output } = await compile()
    expect(code).not.toBe(0)
    const errors = output.split("\n").filter((line) => /error TS\d+/.test(line))
    expect(errors.length).toBeGreaterThan(0)
    // Only the fixture without the policy fails, and it names the missing proof.
    expect(errors.filter((line) => !line.includes("missingPolicy.ts"))).toEqual([])
    expect(output).toContain(`Authorized<"widgets:write">`)
  }, 60_000)
})
