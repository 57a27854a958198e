/**
 * What the real-CLI test files share: a server with the pulumi_state extension and one logged-in
 * CLI session per file, and readers for what the server stored.
 */
import { pulumiState } from "@itl-attestation/pulumi-state"
import * as crypto from "node:crypto"
import { gunzipSync } from "node:zlib"
import { type PulumiSession, pulumiSession } from "../../../test-support/pulumi.js"
import { startServer, type TestServer } from "../../../test-support/server.js"

/**
 * Per test: several CLI commands of a second or more each (a test's `up` runs the program and a dynamic
 * provider), which a loaded CI machine can stretch well past the suite's default.
 */
export const CLI_TEST_TIMEOUT = 180_000

export interface CliBackend {
  readonly server: TestServer
  readonly token: string
  readonly cli: PulumiSession
  /** fetch against the Pulumi API with the CLI's own scheme (`Authorization: token …`). */
  readonly pulumiApi: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any; text: string }>
  readonly stop: () => Promise<void>
}

export const startCliBackend = async (env: Record<string, string> = {}): Promise<CliBackend> => {
  const token = `pul-test-${crypto.randomBytes(24).toString("hex")}`
  const server = await startServer({ extensions: [pulumiState], env: { ITL_PULUMI_TOKEN: token, ...env } })
  let cli: PulumiSession
  try {
    cli = await pulumiSession({ accessToken: token })
    await cli.run(["login", server.url])
  } catch (error) {
    await server.stop()
    throw error
  }
  const pulumiApi = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(server.url + path, {
      method,
      headers: {
        authorization: `token ${token}`,
        accept: "application/vnd.pulumi+9",
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === "" ? undefined : JSON.parse(text)
    } catch {
      parsed = undefined
    }
    return { status: response.status, body: parsed as any, text }
  }
  return {
    server,
    token,
    cli,
    pulumiApi,
    stop: async () => {
      await cli.cleanup()
      await server.stop()
    }
  }
}

/**
 * Every value the extension stored, as text: each column of each row of every
 * extension_pulumi_state_* table, with binary columns decoded (and gunzipped when they are gzip),
 * so a secret kept in the clear is found whatever the storage format.
 */
export const storedText = async (server: TestServer): Promise<string> => {
  const tables = await server.sql<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_name LIKE 'extension\\_pulumi\\_state\\_%'`
  )
  if (tables.length === 0) throw new Error("no extension_pulumi_state_* tables: is the extension loaded?")
  const parts: Array<string> = []
  for (const { table_name } of tables) {
    const rows = await server.sql<Record<string, unknown>>(`SELECT * FROM "${table_name}"`)
    for (const row of rows) for (const value of Object.values(row)) parts.push(asText(value))
  }
  return parts.join("\n")
}

const asText = (value: unknown): string => {
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value)
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        return gunzipSync(bytes).toString("utf8")
      } catch {
        return bytes.toString("utf8")
      }
    }
    return bytes.toString("utf8")
  }
  if (typeof value === "string") return value
  if (value === null || value === undefined) return ""
  return JSON.stringify(value)
}

/** The `ciphertext` of every secret value in a deployment (the CLI's `{<sig>: …, ciphertext}` objects). */
export const secretCiphertexts = (deployment: unknown): Array<string> => {
  const found: Array<string> = []
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk)
    else if (node !== null && typeof node === "object") {
      const record = node as Record<string, unknown>
      if (record["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270" && typeof record.ciphertext === "string") {
        found.push(record.ciphertext)
      } else Object.values(record).forEach(walk)
    }
  }
  walk(deployment)
  return found
}
