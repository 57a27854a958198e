/**
 * Creating the data directory (ITL_DATA_DIR) at start, with a failure that
 * names the variable and what to do: it is the first thing the embedded
 * default writes (master key, database), and a bare `EACCES: mkdir …` from
 * whichever step happens to run first does not say which setting is wrong.
 */
import * as fs from "node:fs"
import * as path from "node:path"

const advice = "set ITL_DATA_DIR to a directory this user can write"

/** Makes the directory (owner-only) if missing; throws an Error whose message is the start-up line's reason. */
export const prepareDataDir = (dataDir: string): void => {
  const root = path.resolve(dataDir)
  try {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 })
    if (!fs.statSync(root).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" })
    fs.accessSync(root, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason =
      code === "EACCES" || code === "EPERM"
        ? `is not writable by this user (permission denied)`
        : code === "EROFS"
          ? "is on a read-only file system"
          : code === "ENOTDIR" || code === "EEXIST"
            ? "is not a directory (or a part of its path is a file)"
            : `cannot be created: ${(error as Error).message}`
    throw new Error(`ITL_DATA_DIR ${root} ${reason}; ${advice}`)
  }
}
