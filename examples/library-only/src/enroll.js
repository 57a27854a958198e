/**
 * The platform's services in an application's own Effect program, with no
 * HTTP server: register a machine, approve it, read the audit log.
 *
 * Operations that need a scope run under `actingAs(principal, ...scopes)`:
 * the same role check as the HTTP API's endpoint policies, and the name the
 * audit log records.
 */
import { actingAs, AppConfig, AttestationApp, AuditLog, AuditRead, Enrollment, Machines, MachinesWrite, RegisterMachine } from "@itl-attestation/core"
import { Effect, Layer, Schema } from "effect"

/** Who this program acts as: recorded as `approved_by` and as the audit actor. */
export const operator = { name: "inventory-sync", role: "operator" }

/**
 * @param {{ ekPublic: string, hostname: string }} machine the EK public key (PEM) and hostname
 */
export const enrollAndApprove = ({ ekPublic, hostname }) =>
  Effect.gen(function* () {
    const enrollment = yield* Enrollment
    const machines = yield* Machines
    const audit = yield* AuditLog
    // The same decoding the HTTP API applies to a request body.
    const payload = yield* Schema.decodeUnknown(RegisterMachine)({ ek_public: ekPublic, hostname })
    // The second argument is the client address the registration rate limit counts; here: this process.
    const { machine } = yield* enrollment.register(payload, "library")
    const approved = yield* machines.approve(machine.id, "imported from the inventory")
    const trail = yield* audit.list({ target_id: machine.id, limit: 10, offset: 0 })
    return { machine: approved, audit: trail.entries }
  }).pipe(actingAs(operator, MachinesWrite, AuditRead))

/**
 * Runs `program` with the platform's services. `pool`: an existing pg pool
 * (the platform borrows it and never ends it); without it the platform uses
 * ITL_DATABASE_URL or its embedded PGlite under ITL_DATA_DIR. `config`: the
 * platform's AppConfig layer (default: ITL_* variables).
 *
 * @param {Effect.Effect<any, any, any>} program
 * @param {{ pool?: import("pg").Pool, config?: any }} options
 */
export const runWithPlatform = (program, { pool, config } = {}) => {
  const services = AttestationApp.services(pool ? { database: { pool } } : {}).pipe(Layer.provide(config ?? AppConfig.Default))
  // Built for this run and released after it; the core migrations run on the first build.
  return Effect.runPromise(Effect.provide(program, services))
}
