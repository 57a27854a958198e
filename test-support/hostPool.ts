/**
 * A `pg.Pool` that belongs to the test (standing in for an embedding
 * application's own pool), on a fresh database: a new PostgreSQL database on
 * TEST_DATABASE_URL's server, or else a PGlite served on a Unix socket in a
 * temporary directory (one connection: PGlite is a single session).
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { freshDatabase } from "./database.js"

export interface HostPool {
  readonly kind: "embedded" | "postgres"
  readonly pool: pg.Pool
  /** A connection string for the same database (for the `{ url }` option and `PgClient.layer`). */
  readonly url: string
  /** What the platform still needs besides the database: a data directory and a master key. */
  readonly env: Record<string, string>
  readonly cleanup: () => Promise<void>
}

export const freshPool = async (): Promise<HostPool> => {
  const masterKey = crypto.randomBytes(32).toString("hex")
  const serverUrl = process.env.TEST_DATABASE_URL
  if (serverUrl !== undefined && serverUrl !== "") {
    const database = await freshDatabase()
    const pool = new pg.Pool({ connectionString: database.url, max: 5 })
    return {
      kind: "postgres",
      pool,
      url: database.url!,
      env: { ITL_DATA_DIR: database.env.ITL_DATA_DIR!, ITL_MASTER_KEY: masterKey },
      cleanup: async () => {
        if (!pool.ended) await pool.end()
        await database.cleanup()
      }
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-pool-"))
  const db = await PGlite.create(path.join(dir, "pgdata"))
  const server = new PGLiteSocketServer({ db, path: path.join(dir, ".s.PGSQL.5432"), maxConnections: 16 })
  await server.start()
  const pool = new pg.Pool({ host: dir, port: 5432, user: "postgres", database: "postgres", max: 1 })
  return {
    kind: "embedded",
    pool,
    url: `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`,
    env: { ITL_DATA_DIR: path.join(dir, "data"), ITL_MASTER_KEY: masterKey },
    cleanup: async () => {
      if (!pool.ended) await pool.end()
      await server.stop()
      await db.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
