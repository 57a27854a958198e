/**
 * The audit entries as they are sealed into the chain, for extensions that
 * count or forward them (the metrics extension counts them by action). Each
 * entry is announced once across all instances — by the instance whose sealer
 * linked it (AuditSealer.ts), right after that pass commits — so per-instance
 * counts add up to the fleet's. Only what is safe to count leaves here: the
 * action, the target type and the kind of actor; never details or names.
 * Observers run inline in the sealer and must be cheap; one that fails is
 * logged and does not stop sealing.
 */
import { Effect } from "effect"
import { observerSet } from "../observability/observerSet.js"

export interface SealedAuditEntry {
  readonly chainSeq: number
  readonly action: string
  readonly targetType: string
  readonly actorKind: string
}

export type SealedEntriesObserver = (entries: ReadonlyArray<SealedAuditEntry>) => Effect.Effect<void>

export class AuditFeed extends Effect.Service<AuditFeed>()("@itl-attestation/core/AuditFeed", {
  sync: () => {
    const observers = observerSet<ReadonlyArray<SealedAuditEntry>>("audit feed")
    return {
      /** Adds an observer of sealed entries for the life of the caller's scope. */
      observeSealed: (observer: SealedEntriesObserver) => observers.observe(observer),
      /** Called by the sealer after a pass commits. */
      notifySealed: (entries: ReadonlyArray<SealedAuditEntry>) => (entries.length === 0 ? Effect.void : observers.notify(entries))
    } as const
  }
}) {}
