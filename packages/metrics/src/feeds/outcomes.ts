/**
 * How a request's outcome is counted. Successes of changes that emit an event
 * are counted from the event (it commits with the change: events.ts); every
 * other outcome — refusals, errors, and successes that emit no event — from
 * the request hook (requests.ts). So each (series, labels) pair has exactly one
 * source and nothing is counted twice.
 *
 * The routes are the public API of the core and of secret_vault, as templates
 * (never raw paths). A route not listed here only feeds the HTTP histogram.
 */

export type Outcome = "success" | "failure" | "error"

/** 2xx success, 4xx failure (refused: bad input, no right, not found, rate limited), 5xx error. */
export const outcomeOf = (status: number): Outcome | undefined =>
  status >= 200 && status < 300 ? "success" : status >= 400 && status < 500 ? "failure" : status >= 500 ? "error" : undefined

export interface RouteCount {
  readonly series: "registrations" | "attestations" | "secrets"
  /** Labels other than the outcome. */
  readonly labels: Readonly<Record<string, string>>
  /** True when a success is counted from the event the change emits, not from the response. */
  readonly successFromEvent: boolean
}

const attestation = (action: string, successFromEvent: boolean): RouteCount => ({ series: "attestations", labels: { action }, successFromEvent })
const secret = (operation: string, successFromEvent: boolean): RouteCount => ({ series: "secrets", labels: { operation }, successFromEvent })

/** `METHOD route-template` → what it counts. */
export const countedRoutes: ReadonlyMap<string, RouteCount> = new Map([
  ["POST /api/v1/machines/register", { series: "registrations", labels: {}, successFromEvent: false }],
  ["POST /api/v1/machines/:id/activate", attestation("activate", false)],
  ["POST /api/v1/attest/challenge", attestation("challenge", false)],
  ["POST /api/v1/attest", attestation("quote", true)],
  ["POST /api/v1/secrets/machines/:id/secrets", secret("create", true)],
  ["GET /api/v1/secrets/machines/:id/secrets", secret("list", false)],
  ["GET /api/v1/secrets/machines/:id/secrets/:name", secret("get", true)],
  ["DELETE /api/v1/secrets/:id", secret("delete", true)],
  ["POST /api/v1/shared-secrets", secret("create", true)],
  ["GET /api/v1/shared-secrets", secret("list", false)],
  ["PUT /api/v1/shared-secrets/:id", secret("update", false)],
  ["DELETE /api/v1/shared-secrets/:id", secret("delete", true)],
  ["POST /api/v1/shared-secrets/:id/access", secret("grant", true)],
  ["DELETE /api/v1/shared-secrets/:id/access", secret("revoke", true)],
  ["GET /api/v1/shared-secrets/by-name/:name/value", secret("get", true)]
])

/**
 * Registration has its own outcome names: a new EK is `registered` (from the
 * machine.registered event, so never from a 201 here), a known EK registering
 * again is `known` (200), then `refused` (4xx) and `error` (5xx).
 */
export const registrationStatusOf = (status: number): string | undefined =>
  status === 200 ? "known" : status >= 400 && status < 500 ? "refused" : status >= 500 ? "error" : undefined

/** Events that are the success of a counted change. */
export const eventCounts: ReadonlyMap<string, { readonly series: RouteCount["series"]; readonly labels: Readonly<Record<string, string>> }> =
  new Map([
    ["machine.registered", { series: "registrations", labels: { status: "registered" } }],
    ["machine.attested", { series: "attestations", labels: { action: "quote", status: "success" } }],
    ["secret.created", { series: "secrets", labels: { operation: "create", status: "success" } }],
    ["secret.accessed", { series: "secrets", labels: { operation: "get", status: "success" } }],
    ["secret.deleted", { series: "secrets", labels: { operation: "delete", status: "success" } }],
    ["shared_secret.created", { series: "secrets", labels: { operation: "create", status: "success" } }],
    ["shared_secret.deleted", { series: "secrets", labels: { operation: "delete", status: "success" } }],
    ["shared_secret.access_granted", { series: "secrets", labels: { operation: "grant", status: "success" } }],
    ["shared_secret.access_revoked", { series: "secrets", labels: { operation: "revoke", status: "success" } }],
    ["shared_secret.accessed", { series: "secrets", labels: { operation: "get", status: "success" } }]
  ] as const)
