/** node src/main.js — PORT; the platform reads its ITL_* settings (docs/configuration.md). */
import { start } from "./server.js"

const app = await start({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? "127.0.0.1" })
const report = await app.ready
console.log(`listening on ${app.url}; attestation platform under ${app.url}/attestation (${report.database.description})`)
if (report.generatedAdminToken._tag === "Some") console.log(`admin token (shown once): ${report.generatedAdminToken.value}`)
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await app.close()
    process.exit(0)
  })
}
