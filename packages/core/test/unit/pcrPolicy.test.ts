/** PCR policy rules: which policy applies, what a quote must cover, what it must hold. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Schema } from "effect"
import { choosePolicy } from "../../src/attestation/Attestation.js"
import { PcrPolicy, policyMismatches, policyOf, selectionOf, uncoveredByQuote, type VerifiedPcrs } from "../../src/attestation/PcrPolicy.js"

const hex = (byte: number, size = 32) => Buffer.alloc(size, byte).toString("hex")
const verified = (values: Record<string, Record<number, number>>): VerifiedPcrs =>
  new Map(Object.entries(values).map(([bank, pcrs]) => [bank, new Map(Object.entries(pcrs).map(([i, b]) => [Number(i), Buffer.alloc(bank === "sha1" ? 20 : 32, b)]))]))

describe("which policy applies", () => {
  const own = { sha256: { "7": hex(7) } }
  const fallback = { sha256: { "0": hex(0) } }

  it("the machine's own policy first", () => {
    expect(choosePolicy(own, Option.some(fallback))).toEqual({ source: "machine", pcrs: own })
  })
  it("else the global default", () => {
    expect(choosePolicy(null, Option.some(fallback))).toEqual({ source: "default", pcrs: fallback })
  })
  it("a stored policy naming no PCR counts as none, and so does an empty default", () => {
    expect(choosePolicy({ sha256: {} }, Option.some(fallback))).toEqual({ source: "default", pcrs: fallback })
    expect(choosePolicy({}, Option.some({ sha256: {} }))).toEqual({ source: "none", pcrs: undefined })
    expect(choosePolicy(null, Option.none())).toEqual({ source: "none", pcrs: undefined })
  })
})

describe("checking verified values against a policy", () => {
  const policy = { sha256: { "0": hex(0), "7": hex(7) } }

  it("passes when every policy PCR was quoted with its value (hex case does not matter)", () => {
    expect(uncoveredByQuote(policy, verified({ sha256: { 0: 0, 7: 7, 8: 8 } }))).toEqual([])
    expect(policyMismatches({ sha256: { "7": hex(0xab).toUpperCase() } }, verified({ sha256: { 7: 0xab } }))).toEqual([])
  })
  it("a policy PCR the quote did not cover is never a pass", () => {
    const values = verified({ sha256: { 0: 0 } })
    expect(uncoveredByQuote(policy, values)).toEqual(["sha256:7"])
    expect(policyMismatches(policy, values)).toEqual(["sha256:7"])
  })
  it("names each PCR whose value differs", () => {
    expect(policyMismatches(policy, verified({ sha256: { 0: 1, 7: 7 } }))).toEqual(["sha256:0"])
  })
  it("the same index in another bank is another PCR", () => {
    expect(uncoveredByQuote(policy, verified({ sha1: { 0: 0, 7: 7 } }))).toEqual(["sha256:0", "sha256:7"])
  })
})

describe("trust on approve", () => {
  it("records exactly what the quote covered, banks in order, indexes ascending", () => {
    const recorded = policyOf(verified({ sha256: { 7: 7, 0: 0 }, sha1: { 3: 3 } }))
    expect(recorded).toEqual({ sha1: { "3": hex(3, 20) }, sha256: { "0": hex(0), "7": hex(7) } })
    expect(selectionOf(recorded)).toBe("sha1:3+sha256:0,7")
  })
})

describe("a policy as an operator sends it", () => {
  const decode = Schema.decodeUnknownEither(PcrPolicy)

  it.effect("is accepted with known banks, indexes 0 to 23 and digests of the bank's length", () =>
    Effect.gen(function* () {
      const policy = yield* decode({ pcrs: { sha256: { "7": hex(7) }, sha1: { "23": hex(1, 20) } } })
      expect(selectionOf(policy.pcrs)).toBe("sha1:23+sha256:7")
    })
  )

  for (const [label, pcrs, path] of [
    ["an unknown bank (names are lower case)", { SHA256: { "7": hex(7) } }, "SHA256"],
    ["an index past 23", { sha256: { "24": hex(7) } }, "24"],
    ["an index with a leading zero", { sha256: { "07": hex(7) } }, "07"],
    ["a value of the wrong length", { sha256: { "7": hex(7, 20) } }, "7"],
    ["a bank naming no PCR", { sha256: {} }, "sha256"]
  ] as const) {
    it(`refuses ${label}, naming it`, () => {
      const result = decode({ pcrs })
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left.message).toContain(path)
    })
  }

  it("refuses an empty policy: it would refuse every quote", () => {
    const result = decode({ pcrs: {} })
    expect(Either.isLeft(result) && result.left.message).toContain("must name at least one PCR")
  })
})
