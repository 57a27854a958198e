/** What `GET /api/capabilities` advertises: only what this backend implements. */
export const Capabilities: ReadonlyArray<Record<string, unknown>> = [
  { capability: "batch-encrypt" },
  // Deltas against the last text once a state passes 1 MiB (the CLI sends the whole text below that).
  { capability: "delta-checkpoint-uploads-v2", version: 2, configuration: { checkpointCutoffSizeBytes: 1024 * 1024 } }
]
