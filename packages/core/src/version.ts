/**
 * The version of @itl-attestation/core, read from its package.json: the one
 * version the OpenAPI document and the server report, and what extensions'
 * `core` ranges are checked against.
 */
import { createRequire } from "node:module"

export const CORE_VERSION: string = createRequire(import.meta.url)("../package.json").version
