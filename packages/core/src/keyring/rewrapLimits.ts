/** Batch sizes of a master-key rewrap pass, shared by the service and the API schema (which must not load the service). */
export const MAX_REWRAP_LIMIT = 1000
export const DEFAULT_REWRAP_LIMIT = 100
