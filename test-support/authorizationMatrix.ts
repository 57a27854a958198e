/**
 * The authorization matrix, generated from the running server's own OpenAPI
 * document (itself generated from the HttpApi definitions of every loaded
 * API), so a new endpoint is covered without anyone writing a test for it.
 *
 * Every operation declares `x-credential` (`operator`, `machine`, `none`);
 * operator operations declare `x-required-scope`, and the document lists every
 * scope's lowest role in `x-scopes`. Each operation is called by every kind of
 * caller — no credential, a garbage token, viewer, operator and admin tokens, an
 * admin token limited to another scope, a revoked token, a machine session,
 * another machine's session — with invalid input (bad path and query
 * parameters, bodies that are not an object, hold a NUL character, nest 3,000
 * levels or are not JSON), and must get the status its declared policy implies:
 *
 * - operator operations: 401 without a valid operator credential (none,
 *   garbage, revoked, any machine session), 403 for a role or a token scope
 *   without the scope, and 400 (the input really is invalid) for every caller
 *   that has it — never a 400 for a caller without it, which would reveal the
 *   endpoint's validation rules;
 * - machine operations: 401 for every operator token and no credential, 400
 *   for a machine session with invalid input; where the operation addresses a
 *   machine's resources (`x-machine-owner`), another machine's session asking
 *   for the first machine's resource gets the documented 403 or 404, and the
 *   machine itself does not.
 */
import { api, type TestServer } from "./server.js"
import { startTpmMachine, type TpmMachine } from "./tpmMachine.js"

type Role = "viewer" | "operator" | "admin"
const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

export interface MatrixOperation {
  readonly method: string
  readonly path: string
  readonly credential: "operator" | "machine" | "none"
  /** Operator operations: the scopes the policy requires and the lowest role that has them all. */
  readonly scopes: ReadonlyArray<string>
  readonly role: Role | undefined
  /** Machine operations that address one machine's resources. */
  readonly machineOwner: { readonly parameter: string; readonly other_machine_status: 403 | 404 } | undefined
  /** True when the request can be made invalid (parameters or a body). */
  readonly invalidatable: boolean
  /** The path with invalid parameters, and invalid query parameters. */
  readonly url: string
  /** Invalid bodies to send (none when the operation takes no body). */
  readonly bodies: ReadonlyArray<string | undefined>
  readonly parameters: ReadonlyArray<{ readonly name: string; readonly in: string }>
}

/** Bodies no payload accepts: wrong type, a NUL character, 3,000 levels deep, not JSON. */
const INVALID_BODIES = [JSON.stringify("not an object"), JSON.stringify({ reason: "a\u0000b" }), "[".repeat(3000) + "]".repeat(3000), "{not json"]

export const matrixOperations = async (server: TestServer): Promise<ReadonlyArray<MatrixOperation>> => {
  const spec = (await api(server).get("/openapi.json")).body
  const grantedTo = new Map<string, Role>((spec["x-scopes"] ?? []).map((s: { name: string; granted_to: Role }) => [s.name, s.granted_to]))
  const operations: Array<MatrixOperation> = []
  for (const [path, item] of Object.entries<Record<string, any>>(spec.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      const where = `${method.toUpperCase()} ${path}`
      const credential = operation["x-credential"]
      if (credential !== "operator" && credential !== "machine" && credential !== "none") {
        throw new Error(`${where} declares no x-credential`)
      }
      const declared = operation["x-required-scope"]
      const scopes: Array<string> = declared === undefined ? [] : Array.isArray(declared) ? declared : [declared]
      if (credential === "operator" && scopes.length === 0) throw new Error(`${where} takes operator credentials but declares no x-required-scope`)
      const roles = scopes.map((scope) => {
        const role = grantedTo.get(scope)
        if (role === undefined) throw new Error(`${where}: scope ${scope} is not listed in x-scopes`)
        return role
      })
      const parameters: Array<any> = operation.parameters ?? []
      const query = parameters.filter((p) => p.in === "query").map((p) => `${p.name}=%20not%20valid%20`)
      const hasBody = operation.requestBody !== undefined
      operations.push({
        method: method.toUpperCase(),
        path,
        credential,
        scopes,
        role: roles.length === 0 ? undefined : roles.reduce((a, b) => (rank[a] >= rank[b] ? a : b)),
        machineOwner: operation["x-machine-owner"],
        url: path.replace(/\{(\w+)\}/g, "%20not%20valid%20") + (query.length > 0 ? `?${query.join("&")}` : ""),
        bodies: hasBody ? INVALID_BODIES : [undefined],
        invalidatable: parameters.some((p) => p.in === "path" || p.in === "query") || hasBody,
        parameters: parameters.map((p) => ({ name: p.name, in: p.in }))
      })
    }
  }
  return operations
}

/** A machine enrolled with a swtpm, approved and attested: `session` is its machine session token. */
export interface AttestedMachine {
  readonly id: string
  readonly session: string
  readonly tpm: TpmMachine
}

export const attestMachine = async (server: TestServer, hostname: string): Promise<AttestedMachine> => {
  const tpm = await startTpmMachine()
  const anonymous = api(server)
  const registered = await anonymous.post("/api/v1/machines/register", { ek_public: tpm.ekPublic, ak_public: tpm.akPublic, hostname })
  const id = registered.body.machine.id as string
  await anonymous.post(`/api/v1/machines/${id}/activate`, { secret: await tpm.activate(registered.body.challenge.credential_file) })
  await api(server, server.adminToken).post(`/api/v1/machines/${id}/approve`)
  const challenge = (await anonymous.post("/api/v1/attest/challenge", { machine_id: id })).body
  const attested = await anonymous.post("/api/v1/attest", { machine_id: id, ...(await tpm.quote(challenge.nonce, challenge.pcr_selection)) })
  if (attested.status !== 200) throw new Error(`attestation of ${hostname} failed: ${attested.status} ${attested.text}`)
  return { id, session: attested.body.session_token, tpm }
}

export interface MatrixCallers {
  readonly viewer: string
  readonly operator: string
  readonly admin: string
  /** Admin tokens limited to one scope each, to find one without the scope an operation needs. */
  readonly scoped: ReadonlyArray<{ readonly scope: string; readonly token: string }>
  readonly revoked: string
  readonly machine: AttestedMachine
  readonly otherMachine: AttestedMachine
}

/** Creates the operator tokens through the API and attests two machines (swtpm). */
export const matrixCallers = async (server: TestServer): Promise<MatrixCallers> => {
  const admin = api(server, server.adminToken)
  const make = async (name: string, role: Role, scopes?: ReadonlyArray<string>) => {
    const created = await admin.post("/api/v1/operators/tokens", { name, role, ...(scopes ? { scopes } : {}) })
    if (created.status !== 201) throw new Error(`could not create the ${name} token: ${created.status} ${created.text}`)
    return created.body as { id: string; token: string }
  }
  const revoked = await make("matrix-revoked", "admin")
  const revocation = await admin.delete(`/api/v1/operators/tokens/${revoked.id}`)
  if (revocation.status !== 200) throw new Error(`could not revoke the matrix token: ${revocation.status}`)
  return {
    viewer: (await make("matrix-viewer", "viewer")).token,
    operator: (await make("matrix-operator", "operator")).token,
    admin: server.adminToken,
    scoped: [
      { scope: "audit:read", token: (await make("matrix-scoped-audit", "admin", ["audit:read"])).token },
      { scope: "machines:read", token: (await make("matrix-scoped-machines", "admin", ["machines:read"])).token }
    ],
    revoked: revoked.token,
    machine: await attestMachine(server, "matrix-machine"),
    otherMachine: await attestMachine(server, "matrix-other-machine")
  }
}

type CallerName = "none" | "garbage" | Role | "scoped" | "revoked" | "machine" | "other machine"

const expectedFor = (operation: MatrixOperation, caller: CallerName): number | "allowed" | undefined => {
  if (operation.credential === "none") return undefined
  if (operation.credential === "machine") {
    if (caller === "machine" || caller === "other machine") return "allowed"
    return 401
  }
  switch (caller) {
    case "none":
    case "garbage":
    case "revoked":
    case "machine":
    case "other machine":
      return 401
    case "scoped":
      return 403
    default:
      return rank[caller] >= rank[operation.role!] ? "allowed" : 403
  }
}

/** Every call that broke the rule, as readable lines (empty when the matrix holds). */
export const authorizationViolations = async (server: TestServer, callers: MatrixCallers) => {
  const operations = await matrixOperations(server)
  const violations: Array<string> = []
  let requests = 0
  const send = (operation: MatrixOperation, url: string, body: string | undefined, token: string | undefined) => {
    requests++
    return api(server, token).call(operation.method, url, body, body === undefined ? {} : { "content-type": "application/json" })
  }
  const tokenOf = (operation: MatrixOperation, caller: CallerName): string | undefined => {
    switch (caller) {
      case "none":
        return undefined
      case "garbage":
        return "itl_op_garbage-not-a-token"
      case "scoped": {
        const lacking = callers.scoped.find((s) => !operation.scopes.includes(s.scope))
        return lacking!.token
      }
      case "machine":
        return callers.machine.session
      case "other machine":
        return callers.otherMachine.session
      default:
        return callers[caller]
    }
  }
  const all: ReadonlyArray<CallerName> = ["none", "garbage", "viewer", "operator", "admin", "scoped", "revoked", "machine", "other machine"]
  for (const operation of operations) {
    if (operation.credential === "none") continue
    for (const caller of all) {
      const expected = expectedFor(operation, caller)
      if (expected === undefined) continue
      for (const body of operation.bodies) {
        const label = `${operation.method} ${operation.path} (${operation.scopes.join(", ") || operation.credential})${body === undefined ? "" : ` body ${body.slice(0, 20)}`}`
        if (expected === "allowed" && !operation.invalidatable) continue
        const response = await send(operation, operation.url, body, tokenOf(operation, caller))
        const want = expected === "allowed" ? 400 : expected
        if (response.status !== want) violations.push(`${label}: ${caller} got ${response.status} (expected ${want})`)
      }
    }
    // Machine operations: a request for one machine's resource, valid in form.
    if (operation.credential === "machine") {
      const url = operation.path.replace(/\{(\w+)\}/g, (_, name: string) =>
        operation.machineOwner?.parameter === name ? callers.machine.id : "matrix-probe"
      )
      const own = await send(operation, url, undefined, callers.machine.session)
      if (own.status === 401 || own.status === 403) violations.push(`${operation.method} ${url}: the machine itself got ${own.status}`)
      if (operation.machineOwner !== undefined) {
        const other = await send(operation, url, undefined, callers.otherMachine.session)
        if (other.status !== operation.machineOwner.other_machine_status) {
          violations.push(`${operation.method} ${operation.path}: another machine's session got ${other.status} (expected ${operation.machineOwner.other_machine_status})`)
        }
      }
    }
  }
  return { operations, violations, requests }
}
