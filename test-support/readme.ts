/**
 * README.md's shell blocks, run as a reader would run them. A ```sh block is
 * runnable when the line before its fence is a marker comment:
 *
 *   <!-- runnable -->                        run the block exactly as written
 *   <!-- runnable: item; item; … -->         … with what differs stated, item by item:
 *
 *   NAME=<value>                 an environment variable set for this block
 *   "literal" → <value>          text of the block replaced before it runs
 *   in the background until "regex"
 *                                start it, wait for the regex on its output, leave it running
 *                                while the blocks after it run (the "other terminal"), stop it
 *                                (SIGINT, as Ctrl-C) before the next background block and at the end
 *   in a fresh clone only        run only when walking a fresh clone (`npm ci`, say)
 *
 * `<value>` is one of the walk's values: <port> (a free port), <data dir> (an
 * empty directory), <database> (a fresh PostgreSQL database URL); each is the
 * same in every block of one walk, so "9000" → <port> in one block meets
 * ITL_PORT=<port> in another. Every block runs in its own `bash -e -o
 * pipefail` (a failing command fails the walk) in the repository's directory,
 * in a user's environment (test-support/packing.ts userEnvironment: a
 * temporary HOME, none of the suite's ITL_* or TEST_* variables) plus the
 * block's variables.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { userEnvironment } from "./packing.js"

export interface Block {
  /** 1-based line of the opening fence in README.md, for messages. */
  readonly line: number
  readonly source: string
  readonly env: ReadonlyArray<readonly [name: string, value: string]>
  readonly replacements: ReadonlyArray<readonly [literal: string, value: string]>
  readonly background: RegExp | undefined
  readonly cloneOnly: boolean
  readonly marker: string
}

const MARKER = /^<!--\s*runnable(?::(.*?))?\s*-->\s*$/

const parseItem = (item: string, block: { env: Array<[string, string]>; replacements: Array<[string, string]>; background?: RegExp; cloneOnly: boolean }, line: number) => {
  let match: RegExpExecArray | null
  if ((match = /^in the background until "(.+)"$/.exec(item))) block.background = new RegExp(match[1]!, "m")
  else if (item === "in a fresh clone only") block.cloneOnly = true
  else if ((match = /^"(.+)"\s*→\s*(<[^>]+>)$/.exec(item))) block.replacements.push([match[1]!, match[2]!])
  else if ((match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(item))) block.env.push([match[1]!, match[2]!])
  else throw new Error(`README.md:${line}: cannot read the runnable marker item ${JSON.stringify(item)}`)
}

/** The runnable blocks of a README, in document order. */
export const runnableBlocks = (readme: string): Array<Block> => {
  const lines = readme.split("\n")
  const blocks: Array<Block> = []
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i]!.trim())
    if (!marker) continue
    const fence = i + 1
    if (lines[fence]?.trim() !== "```sh") throw new Error(`README.md:${i + 1}: a runnable marker must stand right before a \`\`\`sh fence`)
    const end = lines.findIndex((l, j) => j > fence && l.trim() === "```")
    if (end < 0) throw new Error(`README.md:${fence + 1}: the block is not closed`)
    const block = { env: [] as Array<[string, string]>, replacements: [] as Array<[string, string]>, background: undefined as RegExp | undefined, cloneOnly: false }
    for (const item of (marker[1] ?? "").split(";").map((s) => s.trim()).filter((s) => s !== "")) parseItem(item, block, i + 1)
    blocks.push({ line: fence + 1, source: lines.slice(fence + 1, end).join("\n") + "\n", marker: lines[i]!.trim(), ...block })
    i = end
  }
  return blocks
}

/** What a walk substitutes for each <value> (every one a marker may name must be here). */
export type Values = Record<string, string>

export interface BlockRun {
  readonly block: Block
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const substitute = (text: string, values: Values, where: string) =>
  text.replace(/<[^>]+>/g, (name) => {
    const value = values[name]
    if (value === undefined) throw new Error(`${where}: no value for ${name}`)
    return value
  })

/** The block's text as it runs: its replacements applied. */
export const scriptOf = (block: Block, values: Values) =>
  block.replacements.reduce((text, [literal, value]) => {
    if (!text.includes(literal)) throw new Error(`README.md:${block.line}: the marker replaces "${literal}", which the block does not contain`)
    return text.split(literal).join(substitute(value, values, `README.md:${block.line}`))
  }, block.source)

interface Running {
  readonly block: Block
  readonly child: ReturnType<typeof spawn>
  readonly output: () => { stdout: string; stderr: string }
  readonly exited: Promise<number | null>
}

const start = (block: Block, options: { cwd: string; values: Values; home: string }): Running => {
  const env = userEnvironment(options.home)
  for (const [name, value] of block.env) env[name] = substitute(value, options.values, `README.md:${block.line}`)
  // Its own process group, so that stopping it stops what it started (npm → sh → node).
  const child = spawn("bash", ["-e", "-o", "pipefail", "-c", scriptOf(block, options.values)], {
    cwd: options.cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d) => (stdout += d))
  child.stderr!.on("data", (d) => (stderr += d))
  // A shell killed by a signal reports it as 128 + its number, as bash's $? does.
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code, signal) => resolve(code ?? (signal === null ? null : 128 + os.constants.signals[signal])))
  )
  return { block, child, output: () => ({ stdout, stderr }), exited }
}

const describeRun = (run: Running, code: number | null | string) => {
  const { stdout, stderr } = run.output()
  return `README.md:${run.block.line} (${run.block.marker}) ${code}\n--- block ---\n${run.block.source}--- stdout ---\n${stdout}--- stderr ---\n${stderr}`
}

const waitFor = async (run: Running, pattern: RegExp, ms: number) => {
  let exitCode: number | null | undefined
  void run.exited.then((code) => (exitCode = code))
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const { stdout, stderr } = run.output()
    if (pattern.test(stdout) || pattern.test(stderr)) return
    if (exitCode !== undefined) throw new Error(describeRun(run, `exited with ${exitCode} before printing ${pattern}`))
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(describeRun(run, `did not print ${pattern} within ${ms} ms`))
}

/** Ctrl-C: SIGINT to the block's process group, as a terminal sends it; its server must stop by itself. */
const stop = async (run: Running) => {
  if (run.child.exitCode !== null || run.child.signalCode !== null) return run.exited
  try {
    process.kill(-run.child.pid!, "SIGINT")
  } catch {
    // Already gone.
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-run.child.pid!, "SIGKILL")
    } catch {
      // Already gone.
    }
  }, 30_000)
  const code = await run.exited
  clearTimeout(timer)
  return code
}

export interface WalkOptions {
  readonly cwd: string
  readonly values: Values
  /** Include the blocks marked "in a fresh clone only". */
  readonly clone: boolean
  /** How long a background block may take to print its pattern (a first `npm start` initialises the database). */
  readonly backgroundMs?: number
  /** Called after each block finished (or, in the background, printed its pattern). */
  readonly afterBlock?: (run: BlockRun) => void | Promise<void>
}

/**
 * Runs the blocks in order; throws, with the block and its output, at the
 * first one that fails. Background blocks are stopped (SIGINT, then waited
 * for) before the next one starts and at the end; their exit codes are returned.
 */
export const walk = async (blocks: ReadonlyArray<Block>, options: WalkOptions): Promise<Array<BlockRun>> => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "itl-readme-home-"))
  const runs: Array<BlockRun> = []
  let background: Running | undefined
  const finishBackground = async () => {
    if (background === undefined) return
    const stopped = background
    background = undefined
    const code = await stop(stopped)
    runs.push({ block: stopped.block, code, ...stopped.output() })
  }
  try {
    for (const block of blocks) {
      if (block.cloneOnly && !options.clone) continue
      if (block.background !== undefined) {
        await finishBackground()
        background = start(block, { cwd: options.cwd, values: options.values, home })
        await waitFor(background, block.background, options.backgroundMs ?? 120_000)
        await options.afterBlock?.({ block, code: null, ...background.output() })
        continue
      }
      const run = start(block, { cwd: options.cwd, values: options.values, home })
      const code = await run.exited
      if (code !== 0) throw new Error(describeRun(run, `exited with ${code}`))
      const finished = { block, code, ...run.output() }
      runs.push(finished)
      await options.afterBlock?.(finished)
    }
    await finishBackground()
  } finally {
    if (background !== undefined) await stop(background)
    fs.rmSync(home, { recursive: true, force: true })
  }
  return runs
}
