/**
 * Where the embedded database's socket lives. PGlite is served to the
 * `@effect/sql-pg` client over a Unix socket (not TCP, which any local user
 * could reach) inside a 0700 directory, so only the server's OS user can
 * connect. node-postgres finds a Unix socket by directory: `host` is the
 * directory and the file must be named `.s.PGSQL.<port>`.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/** Only names the socket file; nothing listens on this TCP port. */
export const SOCKET_PORT = 5432
const SOCKET_NAME = `.s.PGSQL.${SOCKET_PORT}`
/** sockaddr_un.sun_path holds 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107

export interface SocketLocation {
  readonly directory: string
  readonly path: string
  /** Removes what `prepare` made (the socket file, and a temporary directory). */
  readonly cleanup: () => void
}

/** True when something accepts connections on the socket (another server on the same data directory). */
const answers = (socketPath: string) =>
  new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath)
    probe.once("connect", () => {
      probe.destroy()
      resolve(true)
    })
    probe.once("error", () => resolve(false))
  })

/**
 * `<dataDir>/run/.s.PGSQL.5432` when that path fits in a socket address;
 * otherwise a fresh 0700 directory from mkdtemp under the OS temporary
 * directory (its name is random, so no other user can pre-create it).
 */
export const prepareSocket = async (dataDir: string): Promise<SocketLocation> => {
  const preferred = path.resolve(dataDir, "run")
  if (Buffer.byteLength(path.join(preferred, SOCKET_NAME)) <= MAX_SOCKET_PATH) {
    fs.mkdirSync(preferred, { recursive: true, mode: 0o700 })
    fs.chmodSync(preferred, 0o700)
    const socketPath = path.join(preferred, SOCKET_NAME)
    if (fs.existsSync(socketPath)) {
      if (await answers(socketPath)) {
        throw new Error(`ITL_DATA_DIR ${path.resolve(dataDir)} is in use by another running server`)
      }
      // Left behind by a server that did not stop cleanly (kill -9, power loss).
      fs.rmSync(socketPath, { force: true })
    }
    return { directory: preferred, path: socketPath, cleanup: () => fs.rmSync(socketPath, { force: true }) }
  }
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "itl-pg-"))
  fs.chmodSync(directory, 0o700)
  const socketPath = path.join(directory, SOCKET_NAME)
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    fs.rmSync(directory, { recursive: true, force: true })
    throw new Error(`the temporary directory ${os.tmpdir()} is too long a path for the embedded database socket; set TMPDIR to a shorter one`)
  }
  return { directory, path: socketPath, cleanup: () => fs.rmSync(directory, { recursive: true, force: true }) }
}
