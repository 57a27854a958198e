/**
 * A fresh database for one test file: a new PostgreSQL database on the server
 * named by TEST_DATABASE_URL, or else a new embedded PGlite data directory.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"

export interface FreshDatabase {
  /** ITL_* variables that point the platform at this database. */
  readonly env: Record<string, string>
  readonly kind: "embedded" | "postgres"
  /** A plain `pg` connection string (postgres only), for tests that look behind the API. */
  readonly url: string | undefined
  readonly cleanup: () => Promise<void>
}

export const freshDatabase = async (): Promise<FreshDatabase> => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-test-"))
  const serverUrl = process.env.TEST_DATABASE_URL
  if (serverUrl === undefined || serverUrl === "") {
    return {
      env: { ITL_DATA_DIR: dataDir },
      kind: "embedded",
      url: undefined,
      cleanup: async () => fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
  return postgresDatabase(serverUrl, dataDir)
}

/** The server tests use when TEST_DATABASE_URL is unset but a test needs PostgreSQL anyway (.ci/run always starts it). */
export const LOCAL_POSTGRES_URL = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"

/**
 * A new database on the PostgreSQL server at `serverUrl` (a role that may
 * CREATE DATABASE), dropped by `cleanup`, whatever TEST_DATABASE_URL says.
 */
export const postgresDatabase = async (serverUrl: string, dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-test-"))): Promise<FreshDatabase> => {
  const name = `itl_test_${crypto.randomBytes(6).toString("hex")}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    env: { ITL_DATA_DIR: dataDir, ITL_DATABASE_URL: url.toString(), ITL_MASTER_KEY: crypto.randomBytes(32).toString("hex") },
    kind: "postgres",
    url: url.toString(),
    cleanup: async () => {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await client.end()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}
