/**
 * What a deployment may clone and run, checked before anything is queued:
 * the repository URL against the operator's allowlist of prefixes, the branch
 * and directory names, and the environment's names. Each refusal names the
 * field. The runner passes these to git and the shell-free spawn as plain
 * arguments, after `--`, so a value cannot become an option.
 */

const SCHEMES = new Set(["https:", "http:", "ssh:", "git:", "file:"])

/** A URL in the one form both the allowlist and the check compare: parsed, without credentials, query or fragment. */
const normalise = (raw: string): string | undefined => {
  if (raw !== raw.trim() || /[\s\x00-\x1f\x7f\\]/.test(raw)) return undefined
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return undefined
  }
  if (!SCHEMES.has(url.protocol) || url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return undefined
  // A `..` or `.` segment (also percent-encoded) would let a URL that starts with an allowed prefix leave it.
  if (/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(url.pathname) || raw.includes("/./") || raw.includes("/../") || /%2f|%5c/i.test(url.pathname)) return undefined
  // The parsed form must be the given form (no hidden normalisation, e.g. `http://host/a/../b` → `/b`).
  if (url.href !== raw && url.href !== `${raw}/`) return undefined
  return raw
}

/** Comma-separated prefixes; undefined when one is malformed. */
export const parseAllowlist = (value: string): ReadonlyArray<string> | undefined => {
  const prefixes = value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
  return prefixes.every((p) => normalise(p) !== undefined) ? prefixes : undefined
}

/**
 * The URL is allowed when it is a prefix itself or continues it at a path
 * boundary: `https://git.example/org` allows `https://git.example/org/app`
 * but not `https://git.example/org-evil`; `https://git.example/org/` allows
 * what starts with it. Scheme and host must match exactly (the prefix is
 * compared on the normalised form, so `https://git.example.evil` never
 * matches `https://git.example`).
 */
export const repoAllowed = (allowlist: ReadonlyArray<string>, repoURL: string): boolean => {
  const url = normalise(repoURL)
  if (url === undefined) return false
  return allowlist.some((prefix) => {
    if (url === prefix) return true
    if (!url.startsWith(prefix)) return false
    const boundary = prefix.endsWith("/") ? "" : url[prefix.length]
    return boundary === "" || boundary === "/"
  })
}

/** Why a repoURL cannot be used, or undefined. */
export const repoProblem = (allowlist: ReadonlyArray<string>, repoURL: string): string | undefined => {
  if (normalise(repoURL) === undefined) {
    return "must be an https://, http://, ssh://, git:// or file:// URL without credentials, query, fragment or dot segments"
  }
  if (allowlist.length === 0) return "deployments are off: ITL_PULUMI_DEPLOY_REPO_ALLOWLIST allows no repository"
  return repoAllowed(allowlist, repoURL) ? undefined : "is not under a prefix of ITL_PULUMI_DEPLOY_REPO_ALLOWLIST"
}

/**
 * A branch (or tag) name as git accepts it (git-check-ref-format), and never
 * one that starts with `-` (it would be read as an option).
 */
export const branchProblem = (branch: string): string | undefined => {
  if (branch.length === 0 || branch.length > 255) return "must be 1 to 255 characters"
  if (branch.startsWith("-")) return "must not start with '-'"
  if (!/^[A-Za-z0-9._\/-]+$/.test(branch)) return "may hold only letters, digits, '.', '_', '/' and '-'"
  if (branch.includes("..") || branch.includes("//") || branch.startsWith("/") || branch.endsWith("/") || branch.endsWith(".") || branch.endsWith(".lock") || branch.includes("/.") || branch.startsWith(".")) {
    return "is not a valid git branch name"
  }
  return undefined
}

/** A directory inside the clone: relative, no `..`, no hidden tricks; "" or "." is the root. */
export const repoDirProblem = (dir: string): string | undefined => {
  if (dir.length > 1024) return "must be at most 1024 characters"
  if (/[\x00-\x1f\x7f\\]/.test(dir)) return "must not hold control characters or backslashes"
  if (dir.startsWith("/")) return "must be relative to the repository root"
  if (dir.split("/").some((segment) => segment === "..")) return "must not contain '..'"
  return undefined
}

/** Variables the runner sets itself: a deployment cannot replace the server's own login or the CLI's home. */
export const RESERVED_ENVIRONMENT = new Set(["PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_API", "PULUMI_HOME"])

export const environmentProblem = (name: string): string | undefined => {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) return "names must be letters, digits and '_', not starting with a digit (at most 128)"
  if (RESERVED_ENVIRONMENT.has(name)) return "is set by the runner and cannot be given"
  return undefined
}
