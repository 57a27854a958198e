/** @itl-attestation/cli as a library: the command tree and its runner, for embedding or testing without a process. Extension modules use `@itl-attestation/cli/sdk`. */
export { loadTree, makeTree, run, type Io } from "./cli.js"
export { callApi, type CoreClient } from "./client.js"
export { loadCliExtensions, searchPaths } from "./discovery.js"
export { ExitCode, EXIT_CODE_MEANINGS } from "./exitCodes.js"
export { REFERENCE_MARKER, renderReference } from "./framework/reference.js"
export { VERSION } from "./version.js"
