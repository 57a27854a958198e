/**
 * Secrets and signatures. Two schemes sign every message, each with every
 * secret in force (the current one, and during a rotation the previous one):
 *
 * - `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`, the key
 *   being the secret string's UTF-8 bytes as shown to the operator;
 * - Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256(key,
 *   "{webhook-id}.{webhook-timestamp}.{body}")>`, the key being the bytes a
 *   `whsec_` secret encodes (other secrets: their UTF-8 bytes, which
 *   standardwebhooks libraries read with the "raw" format).
 *
 * Several signatures are separated by a space, as Standard Webhooks specifies.
 */
import * as crypto from "node:crypto"
import { whsecKey } from "./Webhook.js"

/** A Standard Webhooks secret: `whsec_` and the base64 of 24 random bytes. */
export const generateSecret = () => `whsec_${crypto.randomBytes(24).toString("base64")}`

const standardKey = (secret: string) => whsecKey(secret) ?? Buffer.from(secret, "utf8")

export interface SignedMessage {
  readonly messageId: string
  /** Unix seconds of this attempt. */
  readonly timestamp: number
  readonly body: string
  /** Current first. */
  readonly secrets: ReadonlyArray<string>
}

export const signatureHeaders = (message: SignedMessage): Record<string, string> => {
  const signed = `${message.messageId}.${message.timestamp}.${message.body}`
  return {
    "x-webhook-signature": message.secrets
      .map((secret) => `sha256=${crypto.createHmac("sha256", Buffer.from(secret, "utf8")).update(message.body, "utf8").digest("hex")}`)
      .join(" "),
    "webhook-id": message.messageId,
    "webhook-timestamp": String(message.timestamp),
    "webhook-signature": message.secrets
      .map((secret) => `v1,${crypto.createHmac("sha256", standardKey(secret)).update(signed, "utf8").digest("base64")}`)
      .join(" ")
  }
}
