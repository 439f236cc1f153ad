// Generated Relay objects against the shared validation: whatever validateRelay accepts must yield a
// valid socket path, container/volume name and socat command for both halves, with a loopback target.
// A sample of the accepted relays is then run with the real socat (node side in a temp dir, pod side
// in a fresh network namespace via unshare) to show that socat takes the argv.
// Counts: RELAY_FUZZ_RUNS (10 000), RELAY_FUZZ_SOCAT (24 real socat runs), FC_SEED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  nodeArgv,
  podSocketPath,
  sidecarArgv,
  sidecarName,
  socketPath,
  validateRelay,
  volumeName,
  type ResolvedRelay,
} from '../../../relay/index.js';
import { waitFor } from '../../harness/wait.js';
import { relayArb } from '../../harness/arbitraries.js';
import { isDns1123Label, isLoopbackLiteral, judgeNodeArgv, parseSocatAddress } from '../../harness/oracle.js';

const RUNS = Number(process.env.RELAY_FUZZ_RUNS ?? 10_000);
const SOCAT_RUNS = Number(process.env.RELAY_FUZZ_SOCAT ?? 24);
const SEED = Number(process.env.FC_SEED ?? 11);
const SOCKET_DIR = '/run/socat-relay';

function judgeSidecarArgv(r: ResolvedRelay, argv: readonly string[]): string[] {
  const problems: string[] = [];
  const addrs = argv.filter((a) => !a.startsWith('-'));
  if (addrs.length !== 2) return [`sidecar: ${addrs.length} addresses`];
  const listen = parseSocatAddress(addrs[0]!);
  const conn = parseSocatAddress(addrs[1]!);
  if (!/^(TCP|UDP)[46]-(LISTEN|RECV|RECVFROM)$/.test(listen.type)) problems.push(`sidecar listens with ${listen.type}`);
  if (listen.params !== String(r.listenPort) || !(r.listenPort >= 1 && r.listenPort <= 65535))
    problems.push(`sidecar port ${listen.params}`);
  const bind = listen.options
    .find((o) => o.startsWith('bind='))
    ?.slice(5)
    .replace(/^\[|\]$/g, '');
  if (bind === undefined || !(isLoopbackLiteral(bind) || bind === '0.0.0.0' || bind === '::'))
    problems.push(`sidecar binds ${bind}`);
  if (!/^UNIX-(CONNECT|SENDTO)$/.test(conn.type) || conn.params !== podSocketPath(r.name) || conn.options.length > 0)
    problems.push(`sidecar connects to ${addrs[1]}`);
  return problems;
}

test(
  `${RUNS} generated Relay objects: every accepted relay gives valid names, paths and socat commands with a loopback target`,
  { timeout: 300_000 },
  () => {
    let accepted = 0;
    const protocols = new Map<string, number>();
    let lastProblems: string[] = [];
    try {
      fc.assert(
        fc.property(relayArb, (input) => {
          const v = validateRelay(input);
          const problems: string[] = [];
          if (!v.resolved) {
            if (v.problems.length === 0) problems.push('refused without a problem');
            for (const p of v.problems)
              if (!p.field || !p.message) problems.push(`problem without field or message: ${JSON.stringify(p)}`);
          } else {
            const r = v.resolved;
            accepted++;
            const kind = r.protocol === 'TCP' ? 'TCP' : `UDP/${r.udpMode}`;
            protocols.set(kind, (protocols.get(kind) ?? 0) + 1);
            if (!isDns1123Label(r.name) || !isDns1123Label(sidecarName(r.name)) || !isDns1123Label(volumeName(r.name)))
              problems.push(`names ${r.name}/${sidecarName(r.name)}`);
            const sock = socketPath(SOCKET_DIR, r.name);
            if (path.posix.normalize(sock) !== sock || path.posix.dirname(path.posix.dirname(sock)) !== SOCKET_DIR)
              problems.push(`socket path ${sock} escapes ${SOCKET_DIR}`);
            if (Buffer.byteLength(sock) > 107) problems.push(`socket path ${sock} longer than sun_path`);
            try {
              problems.push(...judgeNodeArgv(nodeArgv(r, { socketDir: SOCKET_DIR }), SOCKET_DIR, r.name).problems);
              problems.push(...judgeSidecarArgv(r, sidecarArgv(r)));
            } catch (e) {
              problems.push(`argv builder threw: ${(e as Error).message}`);
            }
            if (!isLoopbackLiteral(r.targetHost)) problems.push(`target ${r.targetHost}`);
          }
          if (problems.length > 0) lastProblems = problems;
          return problems.length === 0;
        }),
        { numRuns: RUNS, seed: SEED },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\nproblems: ${lastProblems.join('; ')}`, { cause: e });
    }
    console.log(
      `[relay-fuzz] ${RUNS} generated relays: ${accepted} accepted ${JSON.stringify(Object.fromEntries(protocols))}, ${RUNS - accepted} refused with named fields`,
    );
    assert.ok(accepted > RUNS / 20, 'too few accepted relays: the generator does not reach the argv builders');
  },
);

/** Runs socat with `argv` (through `prefix`), resolves when it has been up `aliveMs` without an error line. */
async function socatStays(
  prefix: string[],
  argv: string[],
  aliveMs: number,
  ready?: () => boolean,
): Promise<string | undefined> {
  const [cmd, ...rest] = [...prefix, 'socat', '-d', '-d', ...argv];
  const child = spawn(cmd!, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  let exited: string | undefined;
  child.on('exit', (code, sig) => {
    exited = `exited ${code ?? sig}`;
  });
  try {
    if (ready)
      await waitFor('socat ready', () => exited !== undefined || ready(), { timeoutMs: 10_000, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, aliveMs));
    const err = stderr.split('\n').find((l) => / [EF] /.test(l));
    return exited ?? err;
  } finally {
    child.kill('SIGKILL');
  }
}

test(
  `${SOCAT_RUNS} accepted generated relays run with the real socat: the node side binds its 0660 socket, the pod side listens in a fresh netns`,
  { timeout: 300_000 },
  async (t) => {
    const accepted = fc
      .sample(relayArb, { numRuns: 4000, seed: SEED + 1 })
      .map((x) => validateRelay(x).resolved)
      .filter((r): r is ResolvedRelay => r !== undefined);
    const byKind = new Map<string, ResolvedRelay[]>();
    for (const r of accepted) {
      const k = `${r.protocol}/${r.udpMode}/${r.targetHost.includes(':') ? 6 : 4}/${r.listenAddress.includes(':') ? 6 : 4}`;
      (byKind.get(k) ?? byKind.set(k, []).get(k)!).push(r);
    }
    // Spread the sample over every protocol/mode/family combination that occurred.
    const sample: ResolvedRelay[] = [];
    for (let i = 0; sample.length < SOCAT_RUNS && i < 100; i++)
      for (const list of byKind.values()) if (list[i] && sample.length < SOCAT_RUNS) sample.push(list[i]!);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-relayfuzz-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const failures: string[] = [];
    for (const r of sample) {
      mkdirSync(path.join(dir, r.name), { recursive: true });
      const sock = socketPath(dir, r.name);
      const nodeErr = await socatStays([], nodeArgv(r, { socketDir: dir, socketGid: 65532 }), 300, () => {
        try {
          return statSync(sock).isSocket();
        } catch {
          return false;
        }
      });
      if (nodeErr) failures.push(`${r.name} node side: ${nodeErr}`);
      else if ((statSync(sock).mode & 0o777) !== 0o660 || statSync(sock).gid !== 65532)
        failures.push(`${r.name} socket mode ${(statSync(sock).mode & 0o777).toString(8)} gid ${statSync(sock).gid}`);
      rmSync(path.join(dir, r.name), { recursive: true, force: true });
      const podErr = await socatStays(
        ['unshare', '--net', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh'],
        sidecarArgv(r),
        400,
      );
      if (podErr) failures.push(`${r.name} pod side (${sidecarArgv(r).join(' ')}): ${podErr}`);
    }
    console.log(
      `[relay-fuzz] real socat: ${sample.length} accepted relays over ${byKind.size} protocol/mode/family kinds, node and pod side each; failures ${failures.length}`,
    );
    assert.ok(sample.length > 0);
    assert.deepEqual(failures, []);
  },
);
