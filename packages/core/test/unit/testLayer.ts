/**
 * Test layers for fast unit tests of the core's services: the real services
 * and repositories over an in-memory PGlite (real Postgres, as the embedded
 * database is) reached by the same `@effect/sql-pg` client, migrated with the
 * core's migrations. No server, no HTTP.
 *
 * PGlite's first initialisation (initdb) takes seconds; its pristine data
 * directory is kept as a tarball in the OS temporary directory (one per PGlite
 * version) and each test layer starts from a copy, which takes a fraction.
 */
import { AuditFeed } from "../../src/audit/AuditFeed.js"
import { PgClient } from "@effect/sql-pg"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Duration, Effect, Layer, Option } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { Attestation } from "../../src/attestation/Attestation.js"
import { AttestationRepo } from "../../src/attestation/AttestationRepo.js"
import { AuditLog } from "../../src/audit/AuditLog.js"
import { AppConfig, type AppConfigShape, type TpmConfig } from "../../src/config/AppConfig.js"
import { coreMigrations } from "../../src/db/coreMigrations.js"
import { runMigrations } from "../../src/db/Migrations.js"
import { ChallengeRepo } from "../../src/enrollment/ChallengeRepo.js"
import { Enrollment } from "../../src/enrollment/Enrollment.js"
import { Events } from "../../src/events/Events.js"
import { Keyring, makeKeyring } from "../../src/keyring/Keyring.js"
import { MachineRepo } from "../../src/machines/MachineRepo.js"
import { MachineSessions } from "../../src/sessions/MachineSessions.js"

/** The core pins PGlite exactly; a new version gets a new template. */
const pgliteVersion: string = createRequire(import.meta.url)("../../package.json").dependencies["@electric-sql/pglite"]

/** A pristine PGlite data directory (gzipped tar), made once per PGlite version and reused. */
const pristineDataDir = Effect.promise(async () => {
  const file = path.join(os.tmpdir(), `itl-unit-pglite-${pgliteVersion}-${process.getuid?.() ?? 0}.tar.gz`)
  if (fs.existsSync(file)) return new Blob([fs.readFileSync(file)])
  const db = await PGlite.create()
  const dump = await db.dumpDataDir("gzip")
  await db.close()
  // Several test files may make it at once: each writes its own file, the last rename wins, all are equal.
  const partial = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`
  fs.writeFileSync(partial, Buffer.from(await dump.arrayBuffer()), { mode: 0o600 })
  fs.renameSync(partial, file)
  return dump
})

/** An in-memory PGlite served on a Unix socket in a private temporary directory, as the embedded database is. */
export const SqlTest = Layer.unwrapScoped(
  Effect.gen(function* () {
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "itl-unit-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const loadDataDir = yield* pristineDataDir
    const db = yield* Effect.acquireRelease(
      Effect.promise(() => PGlite.create({ loadDataDir })),
      (db) => Effect.promise(() => db.close()).pipe(Effect.ignore)
    )
    yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const server = new PGLiteSocketServer({ db, path: path.join(directory, ".s.PGSQL.5432") })
        await server.start()
        return server
      }),
      (server) => Effect.promise(() => server.stop()).pipe(Effect.ignore)
    )
    return PgClient.layer({ host: directory, port: 5432, username: "postgres", database: "postgres", maxConnections: 1, transformJson: false })
  })
)

/** The SQL client over a database holding the core's schema. */
export const MigratedSqlTest = Layer.effectDiscard(runMigrations("core", coreMigrations)).pipe(Layer.provideMerge(SqlTest))

const defaultTpm: TpmConfig = {
  caBundle: Option.none(),
  requireEkCert: false,
  pcrPolicyMode: "trust-on-approve",
  machineSessionTtl: Duration.hours(1),
  maxFailedAttestations: 5,
  machineAuth: "session",
  registrationLimit: 100,
  registrationLimitWindow: Duration.hours(1),
  unverifiedAttestLimit: 10,
  unverifiedAttestLimitWindow: Duration.minutes(10)
}

/** The platform's defaults, as an embedded server without any ITL_* variable has them. */
export const testConfig = (tpm: Partial<TpmConfig> = {}): AppConfigShape => ({
  databaseUrl: Option.none(),
  databaseConnectTimeout: Duration.seconds(5),
  dataDir: os.tmpdir(),
  adminToken: Option.none(),
  masterKey: Option.none(),
  masterKeyPrevious: Option.none(),
  maxBodyBytes: 1024 * 1024,
  tlsClientRole: "operator",
  tpm: { ...defaultTpm, ...tpm }
})

/** The core's machine, enrollment and attestation services and repositories, over a fresh migrated database. */
export const coreTestLayer = (tpm: Partial<TpmConfig> = {}) =>
  Layer.mergeAll(Enrollment.Default, Attestation.Default, MachineRepo.Default, ChallengeRepo.Default, AttestationRepo.Default, MachineSessions.Default).pipe(
    Layer.provideMerge(AuditLog.Default),
    Layer.provideMerge(AuditFeed.Default),
    Layer.provideMerge(Events.Default),
    Layer.provideMerge(MigratedSqlTest),
    Layer.provideMerge(Layer.succeed(Keyring, makeKeyring(crypto.randomBytes(32), []))),
    Layer.provideMerge(AppConfig.make(testConfig(tpm)))
  )
