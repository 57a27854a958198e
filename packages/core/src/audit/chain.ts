/**
 * The audit hash chain: each row's hash is HMAC-SHA256, under a server-held
 * key, over the previous row's hash and the row's own canonical content. A
 * database writer without the key can change rows but cannot produce hashes
 * that verify.
 */
import * as crypto from "node:crypto"

export const GENESIS_HASH = "0".repeat(64)

/** JSON with object keys sorted at every depth, so that jsonb's re-ordering does not change the hash. */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`
}

export interface ChainedContent {
  readonly id: number
  readonly at: string
  readonly actor: string
  readonly actor_kind: string
  readonly action: string
  readonly target_type: string
  readonly target_id: string | null
  readonly details: unknown
}

export const chainHash = (key: Buffer, prevHash: string, row: ChainedContent): string =>
  crypto
    .createHmac("sha256", key)
    .update(prevHash)
    .update("\n")
    .update(
      canonicalJson([row.id, row.at, row.actor, row.actor_kind, row.action, row.target_type, row.target_id, row.details])
    )
    .digest("hex")
