import { PGlite } from "@electric-sql/pglite"
import * as fs from "node:fs"
let t0 = Date.now()
if (!fs.existsSync("/tmp/pgdump.tar.gz")) {
  const db = await PGlite.create()
  console.log("create", Date.now() - t0)
  const blob = await db.dumpDataDir("gzip")
  fs.writeFileSync("/tmp/pgdump.tar.gz", Buffer.from(await blob.arrayBuffer()))
  console.log("dump", Date.now() - t0, fs.statSync("/tmp/pgdump.tar.gz").size)
  await db.close()
}
t0 = Date.now()
const db2 = await PGlite.create({ loadDataDir: new Blob([fs.readFileSync("/tmp/pgdump.tar.gz")]) })
console.log("load", Date.now() - t0)
console.log((await db2.query("select 1 as x")).rows, Date.now() - t0)
