/**
 * Saved connection profiles (`attestation login`): a URL and a token per
 * profile name, in `$XDG_CONFIG_HOME/itl-attestation/config.json` (default
 * `~/.config/…`), mode 0600 in a 0700 directory. Flags and ITL_* variables
 * still win over a profile. A file other users can read is refused, as ssh
 * refuses such a key: it holds tokens.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Environment } from "./framework/bind.js"

export interface Profile {
  readonly url?: string
  readonly token?: string
}

export interface ProfileFile {
  readonly file: string
  readonly profiles: Readonly<Record<string, Profile>>
}

type Result<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly message: string }

export const configFile = (env: Environment) => {
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== "" ? env.XDG_CONFIG_HOME : path.join(env.HOME ?? os.homedir(), ".config")
  return path.join(base, "itl-attestation", "config.json")
}

const isProfile = (value: unknown): value is Profile =>
  typeof value === "object" &&
  value !== null &&
  Object.entries(value).every(([key, field]) => (key === "url" || key === "token") && typeof field === "string")

export const readProfiles = (env: Environment): Result<ProfileFile> => {
  const file = configFile(env)
  let text: string
  try {
    const stat = fs.statSync(file)
    if ((stat.mode & 0o077) !== 0) return { ok: false, message: `${file} can be read by other users and holds tokens; run: chmod 600 ${file}` }
    text = fs.readFileSync(file, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ok: true, value: { file, profiles: {} } }
    return { ok: false, message: `cannot read ${file}: ${(error as Error).message}` }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { ok: false, message: `${file} is not valid JSON; fix it or remove it and run attestation login again` }
  }
  const profiles = (parsed as { profiles?: unknown } | null)?.profiles
  if (typeof profiles !== "object" || profiles === null || !Object.values(profiles).every(isProfile)) {
    return { ok: false, message: `${file} does not hold profiles as {"profiles": {"<name>": {"url", "token"}}}; fix it or remove it` }
  }
  return { ok: true, value: { file, profiles: profiles as Record<string, Profile> } }
}

/** Writes all profiles: a temporary file created 0600, then renamed over the old one (never a moment readable by others). */
export const writeProfiles = (file: string, profiles: Readonly<Record<string, Profile>>) => {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  const temporary = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temporary, `${JSON.stringify({ profiles }, null, 2)}\n`, { mode: 0o600, flag: "wx" })
  fs.renameSync(temporary, file)
}
