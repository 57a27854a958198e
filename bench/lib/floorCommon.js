/**
 * What the floors (floor.js, secretsFloor.js, bareFloor.js, effectFloor.js) share: the database opened the
 * way the real server opens it, and an error carrying an HTTP status. (Audit
 * rows are written unsealed, as the server writes them: neither floor hashes.)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"

export class HttpError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

/**
 * PostgreSQL through a pool of 10 connections, as the real server; or the
 * embedded data directory opened with PGlite and served on a Unix socket,
 * with one connection, as the real server (core db/Database.ts): PGlite is a
 * single session behind the socket.
 */
export const openDatabase = async (config) => {
  if (config.databaseUrl) {
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 })
    return { pool, close: () => pool.end() }
  }
  const embedded = await openEmbedded(config.dataDir)
  const pool = new pg.Pool({ host: embedded.host, port: embedded.port, user: "postgres", database: "postgres", max: 1 })
  return {
    pool,
    close: async () => {
      await pool.end()
      await embedded.close()
    }
  }
}

/**
 * The embedded data directory opened with PGlite and served, as the service
 * serves it (core db/Database.ts), on a Unix socket: `host` is the socket's
 * directory, `port` only names the file `.s.PGSQL.<port>`. { host, port, close }
 */
export const openEmbedded = async (dataDir) => {
  const { PGlite } = await import("@electric-sql/pglite")
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket")
  const db = await PGlite.create(path.resolve(dataDir, "pgdata"))
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "itl-floor-"))
  const port = 5432
  const socket = new PGLiteSocketServer({ db, path: path.join(directory, `.s.PGSQL.${port}`), maxConnections: 16 })
  await socket.start()
  return {
    host: directory,
    port,
    close: async () => {
      await socket.stop()
      await db.close()
      fs.rmSync(directory, { recursive: true, force: true })
    }
  }
}
