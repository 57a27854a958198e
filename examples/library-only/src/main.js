/**
 * node src/main.js <ek.pem> <hostname> — registers and approves one machine
 * and prints its audit trail. DATABASE_URL: the application's own database
 * (its pool is shared with the platform); otherwise the platform's ITL_*
 * settings apply (ITL_DATABASE_URL, or the embedded PGlite in ITL_DATA_DIR).
 */
import * as fs from "node:fs"
import pg from "pg"
import { enrollAndApprove, runWithPlatform } from "./enroll.js"

const [file, hostname] = process.argv.slice(2)
if (!file || !hostname) {
  console.error("usage: node src/main.js <ek.pem> <hostname>")
  process.exit(2)
}
const pool = process.env.DATABASE_URL ? new pg.Pool({ connectionString: process.env.DATABASE_URL }) : undefined
try {
  const { machine, audit } = await runWithPlatform(enrollAndApprove({ ekPublic: fs.readFileSync(file, "utf8"), hostname }), { pool })
  console.log(`${machine.hostname} (${machine.id}): ${machine.status}`)
  // `at` is a DateTime.Utc: its JSON form is the ISO string.
  for (const entry of audit) console.log(`  ${entry.at.toJSON()} ${entry.actor} ${entry.action}`)
} finally {
  await pool?.end()
}
