/**
 * Loads a CommonJS bundle with V8's code cache, kept in
 * $XDG_CACHE_HOME/itl-attestation/v8/ (default ~/.cache/…), so that later runs
 * skip parsing and compiling it (Node 22 does the same with
 * module.enableCompileCache; Node 20 has only vm.Script's cachedData). The
 * cache is written when the process exits, so it also holds the functions
 * that ran. V8 refuses cached data that does not match the source or the
 * Node version, and it is then rebuilt; ITL_CLI_NO_CACHE=1 turns it off.
 * Used for the CLI's own bundle (bin.ts) and for extension command modules
 * shipped as .cjs bundles (discovery.ts).
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import * as vm from "node:vm"

const cacheDir = () => {
  const home = process.env.XDG_CACHE_HOME !== undefined && process.env.XDG_CACHE_HOME !== "" ? process.env.XDG_CACHE_HOME : path.join(os.homedir(), ".cache")
  return path.join(home, "itl-attestation", "v8")
}

export const requireWithCodeCache = (file: string): unknown => {
  const source = fs.readFileSync(file, "utf8")
  const disabled = (process.env.ITL_CLI_NO_CACHE ?? "") !== ""
  // One cache file per bundle path, bundle state and Node version: never another's data.
  const stat = fs.statSync(file)
  const id = crypto.createHash("sha256").update(`${file}\0${stat.size}\0${stat.mtimeMs}\0${process.version}`).digest("hex").slice(0, 32)
  const cacheFile = path.join(cacheDir(), `${id}.bin`)
  let cachedData: Buffer | undefined
  if (!disabled) {
    try {
      cachedData = fs.readFileSync(cacheFile)
    } catch {
      // First run of this bundle: compiled from source, cached at exit.
    }
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData === undefined ? {} : { cachedData })
  })
  if (!disabled && (cachedData === undefined || script.cachedDataRejected === true)) {
    process.once("exit", () => {
      try {
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true, mode: 0o700 })
        const temporary = `${cacheFile}.${process.pid}.tmp`
        fs.writeFileSync(temporary, script.createCachedData())
        fs.renameSync(temporary, cacheFile)
      } catch {
        // A read-only home: no cache, the next run compiles again.
      }
    })
  }
  const module = { exports: {} as unknown }
  ;(script.runInThisContext() as (...args: ReadonlyArray<unknown>) => void)(module.exports, createRequire(file), module, file, path.dirname(file))
  return module.exports
}
