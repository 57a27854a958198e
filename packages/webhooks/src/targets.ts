/**
 * Where a webhook may send (SSRF guard). A URL must be http(s) without
 * credentials; its host's addresses are checked when the webhook is created
 * or changed and again at every delivery (a DNS answer may change), and the
 * connection goes to the address that was checked (send.ts pins it), so a
 * second, different DNS answer cannot slip in between check and connect.
 *
 * Refused: loopback, private (RFC 1918), link-local, CGNAT, ULA, unspecified,
 * multicast and reserved ranges, IPv4 embedded in IPv6 (mapped, NAT64) by the
 * embedded address. ITL_WEBHOOK_ALLOW_PRIVATE=true allows loopback, private,
 * link-local, CGNAT and ULA targets (self-hosting, tests); cloud metadata
 * addresses stay refused whatever it says.
 */
import { Data, Effect } from "effect"
import * as dns from "node:dns"
import * as net from "node:net"

/** Instance metadata services: AWS/GCP/Azure/OpenStack, AWS ECS task metadata, AWS IPv6 IMDS, Alibaba. */
const METADATA = new Set(["169.254.169.254", "169.254.170.2", "fd00:ec2:0:0:0:0:0:254", "100.100.100.200"])

type Range = readonly [string, number, string]

/** [network, prefix, what] — allowed only with ITL_WEBHOOK_ALLOW_PRIVATE. */
const PRIVATE_V4: ReadonlyArray<Range> = [
  ["127.0.0.0", 8, "loopback"],
  ["10.0.0.0", 8, "private"],
  ["172.16.0.0", 12, "private"],
  ["192.168.0.0", 16, "private"],
  ["169.254.0.0", 16, "link-local"],
  ["100.64.0.0", 10, "CGNAT"]
]
/** Never a unicast destination on the internet. */
const RESERVED_V4: ReadonlyArray<Range> = [
  ["0.0.0.0", 8, "unspecified"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"],
  ["198.18.0.0", 15, "reserved"],
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"]
]
const PRIVATE_V6: ReadonlyArray<Range> = [
  ["::1", 128, "loopback"],
  ["fc00::", 7, "ULA"],
  ["fe80::", 10, "link-local"]
]
const RESERVED_V6: ReadonlyArray<Range> = [
  ["::", 128, "unspecified"],
  ["ff00::", 8, "multicast"],
  ["2001:db8::", 32, "reserved"],
  ["100::", 64, "reserved"]
]

const listOf = (ranges: ReadonlyArray<Range>, family: "ipv4" | "ipv6") =>
  ranges.map(([network, prefix, what]) => {
    const list = new net.BlockList()
    list.addSubnet(network, prefix, family)
    return { list, what, family }
  })

const privateLists = [...listOf(PRIVATE_V4, "ipv4"), ...listOf(PRIVATE_V6, "ipv6")]
const reservedLists = [...listOf(RESERVED_V4, "ipv4"), ...listOf(RESERVED_V6, "ipv6")]

/** The 8 groups of an IPv6 address as numbers, or undefined. */
const groupsOf = (address: string): Array<number> | undefined => {
  let text = address.toLowerCase()
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const bytes = v4[1]!.split(".").map(Number)
    text = text.slice(0, -v4[1]!.length) + `${((bytes[0]! << 8) | bytes[1]!).toString(16)}:${((bytes[2]! << 8) | bytes[3]!).toString(16)}`
  }
  const [head, tail] = text.split("::") as [string, string | undefined]
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)))
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right]
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined
}

/** The canonical, fully expanded form (for the metadata set) and an IPv4 address embedded by mapping or NAT64. */
const ipv6Facts = (address: string) => {
  const groups = groupsOf(address)
  if (groups === undefined) return undefined
  const canonical = groups.map((g) => g.toString(16)).join(":")
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
  const zero = (n: number) => groups.slice(0, n).every((g) => g === 0)
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::a.b.c.d (NAT64)
  const embedded =
    zero(5) && groups[5] === 0xffff
      ? v4(groups[6]!, groups[7]!)
      : groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0)
        ? v4(groups[6]!, groups[7]!)
        : zero(6) && (groups[6] !== 0 || groups[7]! > 1)
          ? v4(groups[6]!, groups[7]!)
          : undefined
  return { canonical, embedded }
}

/** Why `address` may not be a webhook target, or undefined when it may. */
export const refusalOf = (address: string, allowPrivate: boolean): string | undefined => {
  const family = net.isIP(address)
  if (family === 0) return `${address} is not an IP address`
  if (family === 6) {
    const facts = ipv6Facts(address)
    if (facts === undefined) return `${address} is not an IP address`
    if (METADATA.has(facts.canonical)) return `${address} is a cloud metadata address`
    if (facts.embedded !== undefined) {
      const inner = refusalOf(facts.embedded, allowPrivate)
      return inner === undefined ? undefined : `${address} embeds ${facts.embedded}: ${inner}`
    }
  } else if (METADATA.has(address)) {
    return `${address} is a cloud metadata address`
  }
  const type = family === 4 ? "ipv4" : "ipv6"
  for (const { list, what, family: f } of reservedLists) if (f === type && list.check(address, type)) return `${address} is a ${what} address`
  if (!allowPrivate) {
    for (const { list, what, family: f } of privateLists) {
      if (f === type && list.check(address, type)) return `${address} is a ${what} address (ITL_WEBHOOK_ALLOW_PRIVATE=true allows it)`
    }
  }
  return undefined
}

/** The URL's form: http(s), no credentials, a host. The reason names what is wrong, or undefined. */
export const formRefusalOf = (url: URL): string | undefined => {
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must be an http or https URL, not ${url.protocol.replace(/:$/, "")}`
  if (url.username !== "" || url.password !== "") return "must not hold credentials (user:password@); sign with the webhook's secret instead"
  if (url.hostname === "") return "must name a host"
  return undefined
}

/** A host name as the URL gives it, without the brackets of an IPv6 literal. */
export const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1")

export interface CheckedAddress {
  readonly address: string
  readonly family: 4 | 6
}

/** A destination the guard refuses, or a host that does not resolve; `message` names the address and why. */
export class TargetRefused extends Data.TaggedError("TargetRefused")<{ readonly message: string }> {}

/**
 * Resolves `host` (an IP literal is taken as is) and checks every address:
 * one refused address refuses the host, so a name cannot mix a public and a
 * private answer. Succeeds with the first address, the one to connect to.
 */
export const resolveChecked = (host: string, allowPrivate: boolean): Effect.Effect<CheckedAddress, TargetRefused> =>
  Effect.gen(function* () {
    const literal = net.isIP(host)
    const addresses: ReadonlyArray<dns.LookupAddress> =
      literal !== 0
        ? [{ address: host, family: literal }]
        : yield* Effect.tryPromise({
            try: () => dns.promises.lookup(host, { all: true, verbatim: true }),
            catch: (error) => new TargetRefused({ message: `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? String(error)})` })
          })
    if (addresses.length === 0) return yield* new TargetRefused({ message: `${host} has no address` })
    for (const { address } of addresses) {
      const refusal = refusalOf(address, allowPrivate)
      if (refusal !== undefined) return yield* new TargetRefused({ message: literal !== 0 ? refusal : `${host} resolves to ${refusal}` })
    }
    const first = addresses[0]!
    return { address: first.address, family: first.family === 6 ? 6 : 4 } as const
  })

/** The whole check of a webhook URL: its form, then its addresses. Fails with the reason. */
export const checkTarget = (raw: string, allowPrivate: boolean): Effect.Effect<{ url: URL; address: CheckedAddress }, TargetRefused> =>
  Effect.gen(function* () {
    if (!URL.canParse(raw)) return yield* new TargetRefused({ message: "must be an absolute http or https URL" })
    const url = new URL(raw)
    const form = formRefusalOf(url)
    if (form !== undefined) return yield* new TargetRefused({ message: form })
    const address = yield* resolveChecked(hostOf(url), allowPrivate)
    return { url, address }
  })
