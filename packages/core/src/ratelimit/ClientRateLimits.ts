/**
 * Per-client-address limits for what unauthenticated callers can make the
 * server do: register new EKs, and send attestation evidence that the
 * machine's AK did not sign.
 *
 * The counters live in this process's memory (fixed windows per address):
 * the attempts they count must cost the server as little as possible, so
 * they are not turned into database writes, and a restart forgetting them
 * only gives an attacker one more window. With several instances behind a
 * load balancer, each instance counts on its own (see docs/security.md).
 *
 * The client address is the socket's remote address; forwarding headers
 * (X-Forwarded-For) are not trusted, since any client can send them.
 */
import type { HttpServerRequest } from "@effect/platform"
import { Duration, Effect, Option } from "effect"
import { AppConfig } from "../config/AppConfig.js"

/** Beyond this many tracked addresses, finished windows are swept before adding one. */
const SWEEP_AT = 10_000

export interface WindowCounter {
  /** Seconds until `key` may try again, or undefined when it is under the limit. */
  readonly blocked: (key: string) => number | undefined
  /** Counts one attempt for `key`; returns the seconds to wait when this attempt went over the limit. */
  readonly hit: (key: string) => number | undefined
}

export const makeWindowCounter = (limit: number, window: Duration.Duration): WindowCounter => {
  const windowMs = Duration.toMillis(window)
  const buckets = new Map<string, { start: number; count: number }>()
  const current = (key: string, now: number) => {
    const bucket = buckets.get(key)
    return bucket !== undefined && now - bucket.start < windowMs ? bucket : undefined
  }
  const wait = (bucket: { start: number }, now: number) => Math.max(1, Math.ceil((bucket.start + windowMs - now) / 1000))
  const blocked = (key: string) => {
    if (limit === 0) return undefined
    const now = Date.now()
    const bucket = current(key, now)
    return bucket !== undefined && bucket.count >= limit ? wait(bucket, now) : undefined
  }
  const hit = (key: string) => {
    if (limit === 0) return undefined
    const now = Date.now()
    let bucket = current(key, now)
    if (bucket === undefined) {
      if (buckets.size >= SWEEP_AT) for (const [k, b] of buckets) if (now - b.start >= windowMs) buckets.delete(k)
      bucket = { start: now, count: 0 }
      buckets.set(key, bucket)
    }
    bucket.count++
    return bucket.count > limit ? wait(bucket, now) : undefined
  }
  return { blocked, hit }
}

/** The socket's remote address; requests that come without one (an embedding host's web handler) share one bucket. */
export const clientAddress = (request: HttpServerRequest.HttpServerRequest): string =>
  Option.getOrElse(request.remoteAddress, () => "unknown")

export class ClientRateLimits extends Effect.Service<ClientRateLimits>()("@itl-attestation/core/ClientRateLimits", {
  effect: Effect.gen(function* () {
    const { tpm } = yield* AppConfig
    return {
      /** New EKs registered (machines created) per client address. */
      registrations: makeWindowCounter(tpm.registrationLimit, tpm.registrationLimitWindow),
      /** Attestations refused before the machine's AK was shown to have signed them. */
      unverifiedAttestations: makeWindowCounter(tpm.unverifiedAttestLimit, tpm.unverifiedAttestLimitWindow)
    } as const
  })
}) {}
