/** The keyring as extensions use it (exported library API). */
import { keyIdOf, makeKeyring } from "@itl-attestation/core"
import { Effect, Exit } from "effect"
import * as crypto from "node:crypto"
import { describe, expect, it } from "vitest"

const open = (keyring: ReturnType<typeof makeKeyring>, sealed: Parameters<typeof keyring.open>[0], aad: string) =>
  Effect.runSyncExit(keyring.open(sealed, aad))

describe("keyring", () => {
  const current = crypto.randomBytes(32)
  const previous = crypto.randomBytes(32)
  const keyring = makeKeyring(current, [previous])

  it("seals with the current key and a fresh 96-bit nonce, and opens with the same AAD", () => {
    const a = keyring.seal(Buffer.from("disk key"), "extension_secrets:1")
    const b = keyring.seal(Buffer.from("disk key"), "extension_secrets:1")
    expect(a.keyId).toBe(keyIdOf(current))
    expect(a.nonce).toHaveLength(12)
    expect(a.tag).toHaveLength(16)
    expect(a.nonce.equals(b.nonce)).toBe(false)
    expect(a.ciphertext.toString()).not.toContain("disk key")
    const opened = open(keyring, a, "extension_secrets:1")
    expect(Exit.isSuccess(opened) && opened.value.toString()).toBe("disk key")
  })

  it("refuses a ciphertext moved to another row (AAD), altered, or under an unknown key", () => {
    const sealed = keyring.seal(Buffer.from("v"), "row:1")
    expect(Exit.isFailure(open(keyring, sealed, "row:2"))).toBe(true)
    expect(Exit.isFailure(open(keyring, { ...sealed, ciphertext: Buffer.from([sealed.ciphertext[0]! ^ 1]) }, "row:1"))).toBe(true)
    expect(Exit.isFailure(open(keyring, { ...sealed, keyId: "mk-0000000000000000" }, "row:1"))).toBe(true)
  })

  it("opens ciphertexts of the previous key during a rotation, never under another key's id", () => {
    const old = makeKeyring(previous, []).seal(Buffer.from("old"), "r")
    const opened = open(keyring, old, "r")
    expect(Exit.isSuccess(opened) && opened.value.toString()).toBe("old")
    expect(keyring.hasKey(keyIdOf(previous))).toBe(true)
    expect(Exit.isFailure(open(makeKeyring(crypto.randomBytes(32), []), old, "r"))).toBe(true)
  })

})
