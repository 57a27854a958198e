/**
 * node src/main.js — PORT, APP_API_KEY, and optionally DATABASE_URL (the
 * application's own database, shared with the platform). The platform reads
 * its own ITL_* settings (docs/configuration.md), e.g. ITL_MASTER_KEY and
 * ITL_ADMIN_TOKEN.
 */
import pg from "pg"
import { start } from "./app.js"

const apiKey = process.env.APP_API_KEY
if (!apiKey) {
  console.error("set APP_API_KEY")
  process.exit(1)
}
const pool = process.env.DATABASE_URL ? new pg.Pool({ connectionString: process.env.DATABASE_URL }) : undefined
// The pool is the application's: it handles its idle-client errors, and ends it.
pool?.on("error", (error) => console.error("database pool:", error.message))
const app = await start({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? "127.0.0.1", apiKey, pool })
const report = await app.ready
console.log(`shop on ${app.url}; attestation platform on ${app.url}/attestation (${report.database.description})`)
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await app.close()
    await pool?.end()
    process.exit(0)
  })
}
