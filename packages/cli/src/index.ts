/** @itl-attestation/cli as a library: the command tree, for embedding or testing without a process. */
export { command, run } from "./cli.js"
export { callApi, type CoreClient } from "./client.js"
