/**
 * Child program: the real server with the core only (no extensions), logging at Warning and above so that
 * request logging does not distort the figures (serveExtensions.js).
 *
 * argv[2]: JSON object of ITL_* variables.
 */
import { serveWithExtensions } from "./serveExtensions.js"

await serveWithExtensions([], JSON.parse(process.argv[2]))
