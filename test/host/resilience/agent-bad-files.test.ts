// Bad input against a running node agent: corrupt, empty, binary, huge, hostile and misplaced files
// are dropped into its config folder one after the other while a good relay carries traffic. Each
// must be reported in status.json and skipped; the good relay must not miss one exchange nor restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  agentDirs,
  cleanupDirs,
  relayDoc,
  sock,
  startAgentProcess,
  writeRelay,
  type AgentDirs,
  type AgentProcess,
} from '../../harness/agent-process.js';
import { exchange, startEcho, type EchoServer } from '../../harness/net.js';

let dirs: AgentDirs;
let echo: EchoServer;
let agent: AgentProcess;
let goodPid: number | undefined;
const probe = { ok: 0, failed: 0, stop: false, done: Promise.resolve(), errors: [] as string[] };

before(async () => {
  dirs = agentDirs('badfiles');
  echo = await startEcho();
  writeRelay(dirs, 'good', echo.port);
  agent = await startAgentProcess(dirs);
  const s = await agent.waitStatus('the good relay running', (st) => st.relays.good?.running === true);
  goodPid = s.relays.good?.pid;
  // A steady client on the good relay for the whole file: one exchange every 20 ms.
  probe.done = (async () => {
    let i = 0;
    while (!probe.stop) {
      const payload = Buffer.from(`probe ${i++}\n`);
      const t0 = Date.now();
      try {
        const back = await exchange(sock(dirs, 'good'), payload, 5000);
        if (back.equals(payload)) probe.ok++;
        else {
          probe.failed++;
          probe.errors.push(`${new Date(t0).toISOString()} echoed ${back.length} bytes of ${payload.length}`);
        }
      } catch (e) {
        probe.failed++;
        probe.errors.push(`${new Date(t0).toISOString()} after ${Date.now() - t0} ms: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
});

after(async () => {
  probe.stop = true;
  await probe.done;
  await agent?.stop();
  await echo?.close();
  const orphans = cleanupDirs(dirs);
  assert.deepEqual(orphans, [], 'socat processes outlived a clean agent stop');
});

const good = JSON.stringify(relayDoc('truncated', 1234));
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const aliasBomb = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  ...Array.from(
    { length: 9 },
    (_, i) =>
      `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
        .fill(`*${String.fromCharCode(97 + i)}`)
        .join(',')}]`,
  ),
].join('\n');

interface BadFile {
  situation: string;
  file: string;
  make: (file: string) => void;
}

const CASES: BadFile[] = [
  { situation: 'empty file', file: 'empty.json', make: (f) => writeFileSync(f, '') },
  {
    situation: 'truncated JSON (half of a relay)',
    file: 'truncated.json',
    make: (f) => writeFileSync(f, good.slice(0, Math.floor(good.length / 2))),
  },
  {
    situation: 'binary garbage with NUL bytes',
    file: 'binary.yaml',
    make: (f) => writeFileSync(f, Buffer.concat([Buffer.from([0, 0xff, 0xfe, 0]), randomBytes(4096)])),
  },
  {
    situation: 'not UTF-8 (latin1 bytes)',
    file: 'latin1.yaml',
    make: (f) =>
      writeFileSync(
        f,
        Buffer.from('apiVersion: socat.io/v1alpha1\nkind: Relay\nmetadata: {name: caf\xe9}\n', 'latin1'),
      ),
  },
  {
    situation: 'huge file (4 MiB of annotations, port out of range)',
    file: 'huge.json',
    make: (f) =>
      writeFileSync(
        f,
        JSON.stringify({
          ...relayDoc('huge', 70_000),
          metadata: { name: 'huge', annotations: { blob: 'x'.repeat(4 << 20) } },
        }),
      ),
  },
  { situation: 'deeply nested JSON (20 000 levels)', file: 'deep.json', make: (f) => writeFileSync(f, nested(20_000)) },
  { situation: 'YAML alias bomb (billion laughs)', file: 'bomb.yaml', make: (f) => writeFileSync(f, aliasBomb) },
  {
    situation: 'wrong kind (a Pod)',
    file: 'pod.yaml',
    make: (f) =>
      writeFileSync(f, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n'),
  },
  {
    situation: 'a List holding a ConfigMap',
    file: 'list.yaml',
    make: (f) =>
      writeFileSync(
        f,
        'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n',
      ),
  },
  {
    situation: 'relay with an invalid name',
    file: 'badname.json',
    make: (f) => writeFileSync(f, JSON.stringify(relayDoc('Bad_Name', 80))),
  },
  {
    situation: 'relay targeting the metadata service',
    file: 'metadata.json',
    make: (f) =>
      writeFileSync(
        f,
        JSON.stringify({
          ...relayDoc('metadata', 80),
          spec: { target: { host: '169.254.169.254', port: 80 }, consumers: { namespaces: ['a'] } },
        }),
      ),
  },
  {
    situation: 'second definition of the good relay in a later file',
    file: 'zz-dup.json',
    make: (f) => writeFileSync(f, JSON.stringify(relayDoc('good', 9))),
  },
  {
    situation: 'duplicate YAML keys',
    file: 'dupkeys.yaml',
    make: (f) =>
      writeFileSync(f, 'apiVersion: socat.io/v1alpha1\nkind: Relay\nkind: Relay\nmetadata: {name: dupkeys}\n'),
  },
  // Every entry fails its pattern: the validation once walked every failed field for each entry
  // (quadratic, minutes of a blocked agent), and 200 000 of them overflowed the stack, which failed
  // the whole reload, so no file was applied any more.
  {
    situation: '30 000 invalid namespaces',
    file: 'manyns.json',
    make: (f) =>
      writeFileSync(f, JSON.stringify(relayDoc('manyns', 80, { consumers: { namespaces: Array(30_000).fill('A') } }))),
  },
  {
    situation: '1 MiB of invalid namespaces (200 000)',
    file: 'mostns.json',
    make: (f) =>
      writeFileSync(f, JSON.stringify(relayDoc('mostns', 80, { consumers: { namespaces: Array(200_000).fill('A') } }))),
  },
  { situation: 'symlink to /etc/passwd', file: 'passwd.yaml', make: (f) => symlinkSync('/etc/passwd', f) },
  { situation: 'symlink loop', file: 'loop.yaml', make: (f) => symlinkSync(f, f) },
  { situation: 'a directory named like a relay file', file: 'folder.yaml', make: (f) => mkdirSync(f) },
];

for (const c of CASES) {
  test(`config file: ${c.situation} (${c.file}) is reported in status.json and skipped; the good relay keeps running`, async () => {
    c.make(path.join(dirs.configDir, c.file));
    const s = await agent.waitStatus(`${c.file} reported`, (st) => st.files[c.file] !== undefined, 20_000);
    const entry = s.files[c.file]!;
    assert.ok(entry.error.length > 0 && entry.error.length < 20_000, `error text of ${entry.error.length} chars`);
    assert.equal(s.relays.good?.running, true);
    assert.equal(s.relays.good?.pid, goodPid, 'the good relay was restarted');
    assert.deepEqual(Object.keys(s.relays).sort(), ['good'], 'a bad file started a relay');
    console.log(`[agent-bad-files] ${c.file}: ${entry.error.slice(0, 110).replace(/\n/g, ' ')}`);
  });
}

test('dangling symlink (points to a removed file) is reported in status.json', async () => {
  symlinkSync(path.join(dirs.root, 'gone.json'), path.join(dirs.configDir, 'dangling.json'));
  const s = await agent.waitStatus('dangling.json reported', (st) => st.files['dangling.json'] !== undefined, 6000);
  assert.ok(s.files['dangling.json']);
});

test('after every bad file: all reported at once, the good relay never missed an exchange and never restarted', async () => {
  const s = await agent.waitStatus('all files reported', (st) => CASES.every((c) => st.files[c.file] !== undefined));
  assert.equal(s.relays.good?.restarts, 0);
  assert.equal(s.relays.good?.pid, goodPid);
  // Keep probing a little after the last file so a late reload would show.
  const before = probe.ok;
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(probe.ok > before, 'the probe stopped making progress');
  console.log(
    `[agent-bad-files] ${CASES.length} bad files reported; good relay: ${probe.ok} exchanges ok, ${probe.failed} failed, restarts ${s.relays.good?.restarts}`,
  );
  assert.deepEqual(probe.errors, []);
});

test('a huge target host (4 MiB) is reported with a short error, not echoed whole into status.json', async () => {
  const file = path.join(dirs.configDir, 'hugehost.json');
  writeFileSync(
    file,
    JSON.stringify(relayDoc('hugehost', 80)).replace('"127.0.0.1"', JSON.stringify('1'.repeat(4 << 20))),
  );
  try {
    const s = await agent.waitStatus('hugehost.json reported', (st) => st.files['hugehost.json'] !== undefined, 20_000);
    const len = s.files['hugehost.json']!.error.length;
    console.log(`[agent-bad-files] hugehost.json: error text of ${len} characters`);
    assert.ok(len < 20_000, `error text of ${len} characters`);
  } finally {
    rmSync(file, { force: true });
  }
});

test(
  'a FIFO named like a relay file does not block the agent: a relay added after it still starts',
  { timeout: 30_000 },
  async () => {
    execFileSync('mkfifo', [path.join(dirs.configDir, 'fifo.yaml')]);
    writeRelay(dirs, 'after-fifo', echo.port);
    try {
      await agent.waitStatus('after-fifo running', (st) => st.relays['after-fifo']?.running === true, 8000);
    } finally {
      // Unblock a reader stuck on the FIFO (a writer opens it), remove it, then close: the reader sees EOF.
      const fifo = path.join(dirs.configDir, 'fifo.yaml');
      const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
      rmSync(fifo, { force: true });
      await new Promise((r) => setTimeout(r, 200));
      closeSync(fd);
    }
  },
);
