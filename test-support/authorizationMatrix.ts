/**
 * The authorization matrix, generated from the running server's own OpenAPI
 * document: every operation that takes operator credentials declares
 * `x-required-role`; each is called with invalid input (bad path parameters,
 * bad query parameters, bodies that are not an object, hold a NUL character,
 * nest 3,000 levels or are not JSON) by callers without the
 * role, who must get 401/403 — never a 400 that would reveal the endpoint's
 * validation rules. A caller with the role gets the 400, which shows that
 * the input really was invalid.
 */
import { api, type TestServer } from "./server.js"

export interface MatrixOperation {
  readonly method: string
  readonly path: string
  readonly role: "viewer" | "operator" | "admin"
  /** True when the request can be made invalid (parameters or a body). */
  readonly invalidatable: boolean
  readonly url: string
  /** Invalid bodies to send (none when the operation takes no body). */
  readonly bodies: ReadonlyArray<string | undefined>
}

/** Bodies no payload accepts: wrong type, a NUL character, 3,000 levels deep, not JSON. */
const INVALID_BODIES = [JSON.stringify("not an object"), JSON.stringify({ reason: "a\u0000b" }), "[".repeat(3000) + "]".repeat(3000), "{not json"]

const rank = { viewer: 0, operator: 1, admin: 2 } as const

export const operatorOperations = async (server: TestServer): Promise<ReadonlyArray<MatrixOperation>> => {
  const spec = (await api(server).get("/openapi.json")).body
  const operations: Array<MatrixOperation> = []
  for (const [path, item] of Object.entries<Record<string, any>>(spec.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      const bearer = (operation.security ?? []).some((s: Record<string, unknown>) => "bearer" in s)
      if (!bearer) continue
      const role = operation["x-required-role"]
      if (role === undefined) throw new Error(`${method.toUpperCase()} ${path} takes operator credentials but declares no x-required-role`)
      const parameters: Array<any> = operation.parameters ?? []
      const query = parameters.filter((p) => p.in === "query").map((p) => `${p.name}=%20not%20valid%20`)
      const pathParams = parameters.filter((p) => p.in === "path")
      const url = path.replace(/\{(\w+)\}/g, "%20not%20valid%20") + (query.length > 0 ? `?${query.join("&")}` : "")
      const hasBody = operation.requestBody !== undefined
      operations.push({
        method: method.toUpperCase(),
        path,
        role,
        url,
        bodies: hasBody ? INVALID_BODIES : [undefined],
        invalidatable: pathParams.length > 0 || query.length > 0 || hasBody
      })
    }
  }
  return operations
}

/** Tokens per role, created through the API. */
export const roleTokens = async (server: TestServer) => {
  const admin = api(server, server.adminToken)
  const make = async (role: string) => {
    const created = await admin.post("/api/v1/operators/tokens", { name: `matrix-${role}`, role })
    if (created.status !== 201) throw new Error(`could not create a ${role} token: ${created.status}`)
    return created.body.token as string
  }
  return { viewer: await make("viewer"), operator: await make("operator"), admin: server.adminToken }
}

/** Every call that broke the rule, as readable lines (empty when the matrix holds). */
export const authorizationViolations = async (server: TestServer) => {
  const operations = await operatorOperations(server)
  const tokens = await roleTokens(server)
  const violations: Array<string> = []
  const send = (operation: MatrixOperation, body: string | undefined, token: string | undefined) =>
    api(server, token).call(operation.method, operation.url, body, body === undefined ? {} : { "content-type": "application/json" })
  for (const operation of operations) {
    for (const body of operation.bodies) {
      const label = `${operation.method} ${operation.path} (${operation.role})${body === undefined ? "" : ` body ${body.slice(0, 20)}`}`
      const anonymous = await send(operation, body, undefined)
      if (anonymous.status !== 401) violations.push(`${label}: unauthenticated got ${anonymous.status}`)
      for (const caller of ["viewer", "operator"] as const) {
        if (rank[caller] >= rank[operation.role]) continue
        const response = await send(operation, body, tokens[caller])
        if (response.status !== 403) violations.push(`${label}: ${caller} got ${response.status}`)
      }
      if (operation.invalidatable) {
        const allowed = await send(operation, body, tokens.admin)
        if (allowed.status !== 400) violations.push(`${label}: admin with invalid input got ${allowed.status} (expected 400)`)
      }
    }
  }
  return { operations, violations }
}
