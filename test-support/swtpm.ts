/**
 * Test helper: a throw-away software TPM (swtpm) with EK certificates from a
 * private local CA, driven through tpm2-tools.
 *
 * Everything lives in one temp directory (TPM state, CA, config, work files),
 * so tests never touch /etc or /var/lib/swtpm-localca and can run in parallel.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface SwtpmOptions {
  /** Active PCR banks, comma separated (swtpm_setup --pcr-banks). Default "sha256". */
  readonly pcrBanks?: string;
  /** Create EK + platform certificates with a local CA (default true). */
  readonly ekCerts?: boolean;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface Swtpm {
  /** TCTI string for tpm2-tools, e.g. "swtpm:host=127.0.0.1,port=40123". */
  readonly tcti: string;
  /** Scratch directory for the test's files; also the cwd of run(). */
  readonly workDir: string;
  readonly stateDir: string;
  /** Local CA: root (self-signed) and intermediate (issuer of the EK certs), PEM. Absent without ekCerts. */
  readonly caCertPaths: { readonly root: string; readonly intermediate: string } | null;
  /** EK certificates (DER) as written by swtpm_setup --write-ek-cert-files. Absent without ekCerts. */
  readonly ekCertPaths: { readonly rsa2048: string; readonly ecc: string } | null;
  /** How long swtpm_setup took (ms), for reporting. */
  readonly setupMs: number;
  /** Runs a command with TPM2TOOLS_TCTI set and cwd = workDir; rejects on non-zero exit. */
  run(cmd: string, args: readonly string[]): Promise<RunResult>;
  /** Flushes transient objects; there is no resource manager, so they pile up (0x902 after ~3 keys). */
  flushTransient(): Promise<void>;
  /** Path inside workDir. */
  path(name: string): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** swtpm needs two ports (data, control); we use P and P+1 like the usual 2321/2322 pair. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p < 65535 && (await portFree(p + 1))) return p;
  }
  throw new Error("no free port pair found");
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setupState(dir: string, opts: SwtpmOptions): Promise<void> {
  const stateDir = join(dir, "state");
  const caDir = join(dir, "ca");
  await mkdir(stateDir);
  await mkdir(caDir);
  // Private CA and setup config: the system defaults would put the CA in
  // /var/lib/swtpm-localca, shared between runs and not ours to write.
  const localcaConf = join(dir, "swtpm-localca.conf");
  await writeFile(
    localcaConf,
    [
      `statedir = ${caDir}`,
      `signingkey = ${join(caDir, "signkey.pem")}`,
      `issuercert = ${join(caDir, "issuercert.pem")}`,
      `certserial = ${join(caDir, "certserial")}`,
      "",
    ].join("\n"),
  );
  const localcaOptions = join(dir, "swtpm-localca.options");
  await writeFile(localcaOptions, "--platform-manufacturer Test\n--platform-version 2.1\n--platform-model swtpm\n");
  const setupConf = join(dir, "swtpm_setup.conf");
  await writeFile(
    setupConf,
    [
      "create_certs_tool = /usr/bin/swtpm_localca",
      `create_certs_tool_config = ${localcaConf}`,
      `create_certs_tool_options = ${localcaOptions}`,
      `active_pcr_banks = ${opts.pcrBanks ?? "sha256"}`,
      "",
    ].join("\n"),
  );
  const args = ["--tpm2", "--tpmstate", stateDir, "--config", setupConf, "--pcr-banks", opts.pcrBanks ?? "sha256"];
  if (opts.ekCerts ?? true) {
    args.push("--create-ek-cert", "--create-platform-cert", "--lock-nvram", "--write-ek-cert-files", dir);
  } else {
    args.push("--createek");
  }
  await execFileAsync("swtpm_setup", args, { cwd: dir, timeout: 60_000 });
}

export async function startSwtpm(opts: SwtpmOptions = {}): Promise<Swtpm> {
  const dir = await mkdtemp(join(tmpdir(), "swtpm-test-"));
  const workDir = join(dir, "work");
  const stateDir = join(dir, "state");
  let child: ChildProcess | undefined;
  try {
    await mkdir(workDir);
    const t0 = Date.now();
    await setupState(dir, opts);
    const setupMs = Date.now() - t0;

    let port = 0;
    // Another process may grab the ports between probing and swtpm binding them; retry.
    for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
      port = await freePortPair();
      const proc = spawn(
        "swtpm",
        [
          "socket",
          "--tpm2",
          "--tpmstate",
          `dir=${stateDir}`,
          "--server",
          `type=tcp,port=${port},bindaddr=127.0.0.1`,
          "--ctrl",
          `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
          "--flags",
          "not-need-init,startup-clear",
          "--log",
          `file=${join(dir, "swtpm.log")}`,
        ],
        { stdio: "ignore" },
      );
      let exited = false;
      proc.once("exit", () => (exited = true));
      proc.once("error", () => (exited = true));
      const deadline = Date.now() + 5000;
      while (!exited && Date.now() < deadline && !(await canConnect(port))) await sleep(20);
      if (!exited && (await canConnect(port))) child = proc;
      else if (!exited) proc.kill("SIGKILL");
    }
    if (child === undefined) throw new Error("swtpm did not start listening");

    const running = child;
    const tcti = `swtpm:host=127.0.0.1,port=${port}`;
    const env = { ...process.env, TPM2TOOLS_TCTI: tcti };
    const certs = opts.ekCerts ?? true;
    const run = async (cmd: string, args: readonly string[]): Promise<RunResult> => {
      try {
        const { stdout, stderr } = await execFileAsync(cmd, [...args], {
          cwd: workDir,
          env,
          timeout: 30_000,
          maxBuffer: 16 * 1024 * 1024,
        });
        return { stdout, stderr };
      } catch (e) {
        const err = e as Error & { stdout?: string; stderr?: string; code?: unknown };
        throw new Error(`${cmd} ${args.join(" ")} failed (${String(err.code)}): ${err.stderr ?? ""}${err.stdout ?? ""}`, {
          cause: e,
        });
      }
    };
    return {
      tcti,
      workDir,
      stateDir,
      setupMs,
      caCertPaths: certs
        ? { root: join(dir, "ca", "swtpm-localca-rootca-cert.pem"), intermediate: join(dir, "ca", "issuercert.pem") }
        : null,
      ekCertPaths: certs ? { rsa2048: join(dir, "ek-rsa2048.crt"), ecc: join(dir, "ek-secp384r1.crt") } : null,
      run,
      flushTransient: async () => {
        await run("tpm2_flushcontext", ["-t"]);
      },
      path: (name) => join(workDir, name),
      stop: async () => {
        if (running.exitCode === null && running.signalCode === null) {
          const gone = new Promise<void>((r) => running.once("exit", () => r()));
          running.kill("SIGTERM");
          await Promise.race([gone, sleep(2000)]);
          if (running.exitCode === null && running.signalCode === null) running.kill("SIGKILL");
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    child?.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
