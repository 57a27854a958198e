/** What `GET /api/capabilities` advertises: only what this backend implements. */
export const Capabilities: ReadonlyArray<Record<string, unknown>> = []
