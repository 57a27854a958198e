/**
 * The embedded data directory holds the whole database and, on the embedded
 * default, the keys that open it: nothing in it may be readable by other local
 * users. PGlite's first initialisation writes its files 0666 whatever the umask
 * (it sets the modes itself), so modes are tightened after every open rather
 * than relying on the process umask.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Removes every group/other permission bit under `root` (root included),
 * without following symbolic links. Returns the entries that had any.
 */
export const tightenTree = (root: string): Array<string> => {
  const loosened: Array<string> = []
  const visit = (entry: string) => {
    const stat = fs.lstatSync(entry)
    if (stat.isSymbolicLink()) return
    if ((stat.mode & 0o077) !== 0) {
      fs.chmodSync(entry, stat.mode & 0o700)
      loosened.push(entry)
    }
    if (stat.isDirectory()) for (const child of fs.readdirSync(entry)) visit(path.join(entry, child))
  }
  if (fs.existsSync(root)) visit(root)
  return loosened
}
