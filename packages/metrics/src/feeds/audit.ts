/**
 * Counts audit entries by action as the sealer links them into the chain
 * (core AuditFeed). Each entry is sealed once across all instances — by the
 * instance holding the sealer's lease — so per-instance counts add up to the
 * fleet's, and an entry whose transaction rolled back is never counted.
 */
import { AuditFeed } from "@itl-attestation/core"
import { Effect, Layer } from "effect"
import { PlatformMetrics } from "../PlatformMetrics.js"

export const AuditEntriesFeed = Layer.scopedDiscard(
  Effect.gen(function* () {
    const metrics = yield* PlatformMetrics
    const feed = yield* AuditFeed
    yield* feed.observeSealed((entries) =>
      Effect.sync(() => {
        for (const entry of entries) metrics.auditEntries.inc({ action: entry.action })
      })
    )
  })
)
