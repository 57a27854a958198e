import * as crypto from "node:crypto"

/**
 * Operator tokens carry 256 random bits, so a plain SHA-256 is enough to store
 * them: there is nothing to brute-force that a slow hash would protect.
 */
export const hashToken = (token: string) => crypto.createHash("sha256").update(token, "utf8").digest("hex")

export const generateToken = (prefix: string) => `${prefix}_${crypto.randomBytes(32).toString("base64url")}`
