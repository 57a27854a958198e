/**
 * The secret_vault extension from the CLI: its client, derived from the
 * extension's own HttpApi as the core client is from the core's, and the
 * opening of what the server delivers to a machine (AES-256-GCM).
 */
import { apiCaller, type CallOptions, CliFailure, type ClientOf, type Connection, machineApiCaller, messageOf } from "@itl-attestation/cli/sdk"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import { SecretVaultApi } from "../SecretVaultApi.js"

export type SecretVaultClient = ClientOf<typeof SecretVaultApi>

/** Calls secret_vault's API; failures are one-line `CliFailure`s, as with `callApi`. */
export const callVaultApi: <A, E>(
  globals: Connection,
  call: (client: SecretVaultClient) => Effect.Effect<A, E>,
  options?: CallOptions
) => Effect.Effect<A, CliFailure> = apiCaller(SecretVaultApi)

/** secret_vault's machine endpoints, called as a machine (session token, or EK fingerprint in the compatibility mode). */
export const vaultMachineApi = machineApiCaller(SecretVaultApi)

export interface Sealed {
  /** base64, as the API sends them */
  readonly ciphertext: string
  readonly nonce: string
  readonly tag: string
}

const GCM_NONCE_BYTES = 12
const GCM_TAG_BYTES = 16

/**
 * Opens an AES-256-GCM delivery with `key` (and `aad`, when the scheme binds
 * one) as UTF-8 text. A wrong key or altered data fails with one line naming
 * `what` was being opened; the value never appears in a message.
 */
export const openDelivery = (key: Buffer, sealed: Sealed, aad: string | undefined, what: string) =>
  Effect.try({
    try: () => {
      const nonce = Buffer.from(sealed.nonce, "base64")
      const tag = Buffer.from(sealed.tag, "base64")
      if (key.length !== 32) throw new Error(`the key is ${key.length} bytes, not 32`)
      if (nonce.length !== GCM_NONCE_BYTES || tag.length !== GCM_TAG_BYTES) throw new Error("malformed nonce or tag")
      const decipher = crypto.createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: GCM_TAG_BYTES })
      if (aad !== undefined) decipher.setAAD(Buffer.from(aad, "utf8"))
      decipher.setAuthTag(tag)
      return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, "base64")), decipher.final()]).toString("utf8")
    },
    catch: (error) => {
      const reason = messageOf(error)
      // node:crypto says "Unsupported state or unable to authenticate data".
      const why = /authenticate/i.test(reason) ? "authentication failed (wrong key, or the data was altered)" : reason
      return new CliFailure({ message: `cannot decrypt ${what}: ${why}` })
    }
  })
