/** @itl-attestation/cli as a library: the command tree, for embedding or testing without a process. Extension modules use `@itl-attestation/cli/sdk`. */
export { makeCommand, run } from "./cli.js"
export { callApi, type CoreClient } from "./client.js"
export { loadCliExtensions, searchPaths } from "./discovery.js"
