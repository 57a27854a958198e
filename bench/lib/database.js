/**
 * A fresh database for one benchmark target: a new embedded data directory,
 * or a new database on the PostgreSQL server named by BENCH_DATABASE_URL
 * (created here, dropped by cleanup()).
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"

export const embeddedDatabase = () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-bench-"))
  return {
    kind: "embedded (PGlite)",
    serverEnv: { ITL_DATA_DIR: dataDir },
    /** PGlite allows one process per data directory: the server must be stopped first. */
    floorConfig: { dataDir },
    cleanup: async () => fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

const withClient = async (url, work) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

export const postgresDatabase = async (serverUrl) => {
  const name = `itl_bench_${crypto.randomBytes(6).toString("hex")}`
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`))
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-bench-"))
  return {
    name,
    kind: `PostgreSQL ${(await withClient(url.toString(), (c) => c.query("SHOW server_version"))).rows[0].server_version.split(" ")[0]}`,
    serverEnv: {
      ITL_DATA_DIR: dataDir,
      ITL_DATABASE_URL: url.toString(),
      ITL_MASTER_KEY: crypto.randomBytes(32).toString("hex")
    },
    floorConfig: { databaseUrl: url.toString() },
    cleanup: async () => {
      await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/**
 * The databases a bench measures, as [short name, make]: PGlite unless BENCH_EMBEDDED=0, and PostgreSQL when
 * BENCH_DATABASE_URL is set.
 */
export const benchedDatabases = () => {
  const databases = []
  if (process.env.BENCH_EMBEDDED !== "0") databases.push(["pglite", () => embeddedDatabase()])
  const url = process.env.BENCH_DATABASE_URL
  if (url) databases.push(["postgres", () => postgresDatabase(url)])
  else console.error("[bench] BENCH_DATABASE_URL is not set: PostgreSQL is skipped")
  return databases
}
