/** Types of test-support/pulumi.js (JavaScript so that the bench can use it on plain Node). */
export declare const pulumiFixtures: string
export declare const pulumiBin: () => Promise<string>
export declare const programNodeModules: () => Promise<string>

export interface PulumiResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** stdout and stderr, for matching the CLI's messages wherever it prints them. */
  readonly output: string
}

export interface RunOptions {
  readonly cwd?: string
  /** Extra environment for this one command. */
  readonly env?: Record<string, string>
  /** Resolve with a non-zero exit instead of rejecting. */
  readonly allowFailure?: boolean
  readonly stdin?: string
}

export interface RunningPulumi {
  readonly done: Promise<PulumiResult>
  /** Sends a signal to the CLI process (default SIGINT). */
  readonly kill: (signal?: NodeJS.Signals) => void
}

export interface PulumiSession {
  /** This session's PULUMI_HOME. */
  readonly home: string
  /** The environment every command gets. */
  readonly env: Record<string, string>
  /** A scratch directory removed by cleanup(). */
  readonly workDir: string
  /** Runs `pulumi <args>`; rejects with the CLI's output on a non-zero exit unless allowFailure. */
  readonly run: (args: ReadonlyArray<string>, options?: RunOptions) => Promise<PulumiResult>
  /** Starts `pulumi <args>` and returns at once. */
  readonly start: (args: ReadonlyArray<string>, options?: RunOptions) => RunningPulumi
  /** Copies a fixture program into a new directory of this session, with the shared node_modules linked in. */
  readonly program: (fixture: string, options?: { readonly projectName?: string }) => Promise<string>
  readonly cleanup: () => Promise<void>
}

export interface SessionOptions {
  /** PULUMI_ACCESS_TOKEN for HTTP backends. */
  readonly accessToken?: string
  /** Extra environment (e.g. PULUMI_CONFIG_PASSPHRASE for the file backend). */
  readonly env?: Record<string, string>
}

export declare const pulumiSession: (options?: SessionOptions) => Promise<PulumiSession>
/** Waits until a file exists; rejects if `running` exits first. */
export declare const waitForFile: (path: string, what: string, running?: RunningPulumi) => Promise<void>
/** Writes the file atomically (a program polling for it never sees it half written). */
export declare const releaseFile: (path: string) => Promise<void>
