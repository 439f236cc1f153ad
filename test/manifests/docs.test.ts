// The docs are what an operator copies from, so what they name must exist: every flag a doc gives a
// `socat-relay` command is in that command's usage (`--help`); install.md's table of the controller's
// settings is the config schema (env var, flag, default) and the DaemonSet's values; every
// SOCAT_RELAY_* variable a doc names is read by the code; every repository path a doc or a manifest
// comment names exists; every webhook, policy and object name is in manifests/; "two
// ValidatingAdmissionPolicies" is the count in manifests/policy/; every `npm run` script exists; every
// Relay in a code block validates, and docs/csi.md's volume is the one the webhook injects; every
// code identifier in backticks (a function split or renamed) still occurs in the code; every socat.io/
// key is used; docs/security.md's RBAC table is the Roles' rules. Each failure names the file and line.
// (Metric names: test/host/metrics/docs-metrics.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseCsiArgs, type CsiArgs } from '../../cli/csi.js';
import { main } from '../../cli/main.js';
import { formatProblem, parseDocuments, validateRelay } from '../../relay/index.js';
import { defaultInjectOptions, sidecarVolume } from '../../webhook/admission/index.js';
import { SCHEMA } from '../../webhook/config.js';
import { codeBlocks, commentLines, markdownLines, tableRows, where, type DocLine } from '../harness/docs.js';
import { loadManifests, REPO, type KubeObject } from '../harness/manifest-load.js';
import { alignedLiterals, celMessages, codeMessages, docPattern, literalLength, templatePattern } from './messages.js';

const COMMANDS = [
  'controller',
  'agent',
  'csi',
  'inject',
  'validate',
  'certs',
  'static-pod',
  'cleanup',
  'sidecars',
  'check',
  'version',
] as const;
type Command = (typeof COMMANDS)[number];

async function usageOf(cmd: Command): Promise<string> {
  let out = '';
  const io = {
    stdin: process.stdin,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (out += s) },
    env: {},
  };
  assert.equal(await main([cmd, '--help'], io), 0, `socat-relay ${cmd} --help: ${out}`);
  return out;
}

/** `--flag` and `-f` tokens: after a space, a bracket or the start. */
const FLAG = /(?:^|[\s[])(--?[a-zA-Z][\w-]*)/g;
const flagsIn = (text: string): string[] => [...text.matchAll(FLAG)].map((m) => m[1]!);

/**
 * `socat-relay CMD …`, `node dist/cli/main.js CMD …`, `docker run … IMAGE CMD …`: the command and the rest of
 * the code span.
 */
const INVOCATION = new RegExp(
  String.raw`(?:socat-relay|dist/cli/main\.js|cli/main\.ts|\bIMAGE)\s+(${COMMANDS.join('|')})(?![\w-])([^\x60|#)\n]*)`,
  'g',
);
/** README's command table: | `CMD [--flag …]` | … */
const TABLE_ROW = new RegExp(String.raw`^\|\s*\x60(${COMMANDS.join('|')})(?![\w-])([^\x60]*)\x60`);
/** Docs whose tables list one command's flags in their first column. */
const FLAG_TABLES: Record<string, Command> = { 'docs/csi.md': 'csi', 'docs/upgrade.md': 'sidecars' };

interface FlagUse {
  cmd: Command;
  flag: string;
  at: DocLine;
}

/** Shell lines continued with a trailing backslash, joined (located at their first line). */
function joinContinued(lines: DocLine[]): DocLine[] {
  const out: DocLine[] = [];
  for (const l of lines) {
    const last = out.at(-1);
    if (last && last.file === l.file && last.text.endsWith('\\')) last.text = `${last.text.slice(0, -1)} ${l.text}`;
    else out.push({ ...l });
  }
  return out;
}

function flagUses(lines: DocLine[]): FlagUse[] {
  const uses: FlagUse[] = [];
  for (const l of joinContinued(lines)) {
    for (const m of l.text.matchAll(INVOCATION))
      for (const flag of flagsIn(m[2]!)) uses.push({ cmd: m[1] as Command, flag, at: l });
    const row = TABLE_ROW.exec(l.text);
    if (row) for (const flag of flagsIn(row[2]!)) uses.push({ cmd: row[1] as Command, flag, at: l });
    const tableCmd = FLAG_TABLES[l.file];
    const first = tableCmd ? /^\|\s*\x60(--[\w-]+)/.exec(l.text) : null;
    if (first) uses.push({ cmd: tableCmd!, flag: first[1]!, at: l });
  }
  return uses;
}

/** The containers of the shipped manifests that run a socat-relay command: their args are flags too. */
function manifestFlagUses(): FlagUse[] {
  const uses: FlagUse[] = [];
  for (const { file, object } of loadManifests()) {
    const spec = object.kind === 'Pod' ? object.spec : object.spec?.template?.spec;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
      if (!/\/socat-relay:/.test(String(c.image)) || !COMMANDS.includes(c.args?.[0])) continue;
      for (const a of c.args.slice(1) as string[]) {
        if (a.startsWith('-'))
          uses.push({
            cmd: c.args[0],
            flag: a.replace(/=.*/, ''),
            at: { file: `${file} (container ${c.name})`, line: 0, text: a },
          });
      }
    }
  }
  return uses;
}

test("every flag the docs, the manifest comments and the manifests give a socat-relay command is in that command's --help", async () => {
  const known = new Map<Command, Set<string>>();
  for (const cmd of COMMANDS) known.set(cmd, new Set([...flagsIn(await usageOf(cmd)), '--help', '-h']));
  const uses = [...flagUses([...markdownLines(), ...commentLines()]), ...manifestFlagUses()];
  for (const cmd of ['controller', 'agent', 'csi', 'inject', 'certs', 'static-pod', 'cleanup'] as const) {
    assert.ok(
      uses.some((u) => u.cmd === cmd),
      `no doc shows a flag of socat-relay ${cmd}: is the extraction still working?`,
    );
  }
  const wrong = uses
    .filter((u) => !known.get(u.cmd)!.has(u.flag))
    .map((u) => `${where(u.at)}: socat-relay ${u.cmd} has no ${u.flag} (${u.at.text.trim()})`);
  assert.deepEqual([...new Set(wrong)], []);
});

test("install.md's settings table is the controller's config schema: every env var, its flag and default, and what the DaemonSet sets", () => {
  const rows = tableRows('docs/install.md', ['env', 'flag', 'default', 'DaemonSet', 'meaning']);
  assert.ok(rows.length > 0, 'docs/install.md has the settings table (| env | flag | default | DaemonSet | meaning |)');
  const ds = loadManifests().find(
    (l) => l.object.kind === 'DaemonSet' && l.object.metadata.name === 'socat-relay-controller',
  )!.object;
  const env = new Map<string, { value?: string; valueFrom?: unknown }>(
    ds.spec.template.spec.containers
      .find((c: { name: string }) => c.name === 'controller')
      .env.map((e: { name: string }) => [e.name, e]),
  );
  const unquote = (c: string) => c.replace(/^`(.*)`$/, '$1');
  const documented = new Map(rows.map((r) => [unquote(r.row[0]!), r]));
  assert.deepEqual(
    [...documented.keys()].sort(),
    SCHEMA.map((s) => s.env).sort(),
    'the table lists exactly the env vars of webhook/config.ts SCHEMA',
  );
  for (const s of SCHEMA) {
    const { row, line } = documented.get(s.env)!;
    const at = `docs/install.md:${line} (${s.env})`;
    assert.equal(row[1], `\`--${s.flag}\``, `${at}: flag`);
    assert.equal(row[2], s.default === '' ? '(none)' : `\`${s.default}\``, `${at}: default`);
    const set = env.get(s.env);
    assert.equal(
      row[3],
      set === undefined ? '—' : set.valueFrom !== undefined ? 'downward API' : `\`${set.value}\``,
      `${at}: the DaemonSet's value`,
    );
  }
  for (const name of env.keys())
    assert.ok(
      SCHEMA.some((s) => s.env === name),
      `manifests/controller/daemonset.yaml sets ${name}, which the controller does not read`,
    );
});

/** The project's own code: the parts, the CLI, scripts, tests, demo and benchmarks (this file aside). */
const CODE_DIRS = [
  'cli',
  'webhook',
  'node-agent',
  'node-contract',
  'relay',
  'lib',
  'certs',
  'scripts',
  'test',
  'demo',
  'bench',
];

/** The text of every file under `dirs` whose name matches `files`. */
function sourceText(dirs: string[], files = /\.(ts|sh)$/): string {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => {
      const p = path.join(d, n);
      return statSync(p).isDirectory() ? walk(p) : files.test(n) ? [p] : [];
    });
  return dirs
    .flatMap((d) => walk(path.join(REPO, d)))
    .filter((f) => !f.endsWith(path.join('test', 'manifests', 'docs.test.ts')))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
}

test('every SOCAT_RELAY_* variable the docs and the manifests name is read by the code', () => {
  const code = sourceText(CODE_DIRS);
  const schema = new Set(SCHEMA.map((s) => s.env));
  const manifestText = loadManifests()
    .map((l) => JSON.stringify(l.object))
    .join('\n');
  const wrong: string[] = [];
  let seen = 0;
  for (const l of [
    ...markdownLines(),
    ...commentLines(),
    { file: 'manifests (objects)', line: 0, text: manifestText },
  ]) {
    for (const [name] of l.text.matchAll(/\bSOCAT_RELAY_[A-Z0-9_]*[A-Z0-9]/g)) {
      seen++;
      if (!schema.has(name) && !new RegExp(`\\b${name}\\b`).test(code)) wrong.push(`${where(l)}: ${name}`);
    }
  }
  assert.ok(seen > 20, `only ${seen} SOCAT_RELAY_* names found`);
  assert.deepEqual(wrong, []);
});

/** Top folders of the repository: a token starting with one of them is a repository path. */
const TOP = [
  'manifests',
  'docs',
  'test',
  'scripts',
  'cli',
  'relay',
  'webhook',
  'node-agent',
  'node-contract',
  'lib',
  'certs',
  'charts',
  'demo',
  'bench',
];
const REPO_PATH = new RegExp(String.raw`(?<![\w./@~-])((?:${TOP.join('|')})/[\w./-]*)`, 'g');
const LINK = /\]\(([^)#\s]+)(?:#[^)]*)?\)/g;

test('every repository path the docs and the manifest comments name exists', () => {
  const wrong: string[] = [];
  let seen = 0;
  for (const l of [...markdownLines(), ...commentLines()]) {
    const candidates: { p: string; base: string }[] = [];
    for (const [, p] of l.text.matchAll(REPO_PATH)) candidates.push({ p: p!.replace(/[.,:]+$/, ''), base: REPO });
    for (const [, p] of l.text.matchAll(LINK))
      if (!/^[a-z]+:/.test(p!)) candidates.push({ p: p!, base: path.join(REPO, path.dirname(l.file)) });
    for (const { p, base } of candidates) {
      if (p.startsWith('bench/results')) continue; // the benchmarks' output, git-ignored
      seen++;
      if (!existsSync(path.resolve(base, p))) wrong.push(`${where(l)}: ${p}`);
    }
  }
  assert.ok(seen > 100, `only ${seen} paths found`);
  assert.deepEqual([...new Set(wrong)], []);
});

function manifestObjects(): KubeObject[] {
  return loadManifests().map((l) => l.object);
}

/**
 * Names the docs use that are not objects: the sidecar image's repository suffix, `npm run webhook:local`'s
 * certificate folder, the CSI plugins' scrape job (docs/runbooks.md), the election Lease (the controllers make
 * it), the chart's uninstall hook objects (charts/socat-relay/templates/uninstall.yaml, not in manifests/).
 */
const NOT_OBJECTS = new Set([
  'socat-relay-sidecar',
  'socat-relay-tls',
  'socat-relay-csi',
  'socat-relay-leader',
  'socat-relay-uninstall',
]);

test('every *.socat.io and socat-relay-* name in the docs is a webhook, CRD, CSIDriver or object of manifests/', () => {
  const objs = manifestObjects();
  const dotted = new Set([
    ...objs.flatMap((o) => (o.webhooks ?? []).map((w: { name: string }) => w.name)),
    ...objs.filter((o) => o.kind === 'CustomResourceDefinition' || o.kind === 'CSIDriver').map((o) => o.metadata.name),
  ]);
  // Objects and the Secrets they name (the webhook's TLS Secret is made by cert-manager or by the user).
  const names = new Set([
    ...objs.map((o) => o.metadata.name),
    ...[...JSON.stringify(objs).matchAll(/"secretName":"([^"]+)"/g)].map((m) => m[1]!),
  ]);
  const wrong: string[] = [];
  for (const l of [...markdownLines(), ...commentLines()]) {
    for (const [n] of l.text.matchAll(/(?<![\w.-])[a-z0-9-]+\.socat\.io(?![\w/.-])/g))
      if (!dotted.has(n)) wrong.push(`${where(l)}: ${n}`);
    // A name followed by `-` or `<` is a prefix (socat-relay-agent-<node>, socat-relay-controller-<node>).
    for (const [n] of l.text.matchAll(/(?<![\w/.-])socat-relay-[a-z0-9]+(?:-[a-z0-9]+)*(?![\w<-])/g))
      if (!names.has(n) && !NOT_OBJECTS.has(n)) wrong.push(`${where(l)}: ${n}`);
  }
  assert.ok(
    dotted.has('ephemeral-containers.socat.io') && names.has('socat-relay-injected-pods'),
    'the names are read from manifests/',
  );
  assert.deepEqual([...new Set(wrong)], []);
});

const NUMBERS: Record<string, number> = { one: 1, two: 2, both: 2, three: 3, four: 4, five: 5 };

test('the number of ValidatingAdmissionPolicies the docs state is the number in manifests/policy/', () => {
  const count = manifestObjects().filter((o) => o.kind === 'ValidatingAdmissionPolicy').length;
  const wrong: string[] = [];
  let seen = 0;
  for (const l of [...markdownLines(), ...commentLines()]) {
    for (const [, word] of l.text.matchAll(
      /\b(one|two|both|three|four|five|\d+)\s+(?:\*\*)?ValidatingAdmissionPolicies/gi,
    )) {
      seen++;
      const n = NUMBERS[word!.toLowerCase()] ?? Number(word);
      if (n !== count) wrong.push(`${where(l)}: ${word} (manifests/policy/ has ${count})`);
    }
  }
  assert.ok(seen >= 2, `only ${seen} counts found`);
  assert.deepEqual(wrong, []);
});

test("the number of webhook entries the docs state is the number of the mutating configuration's (the Relay webhook is one of its own)", () => {
  const count = manifestObjects()
    .filter((o) => o.kind === 'MutatingWebhookConfiguration')
    .flatMap((o) => o.webhooks).length;
  const wrong: string[] = [];
  let seen = 0;
  // Only lines about webhooks: "30 000 entries" of a Relay list is not a count of webhook entries.
  for (const l of [...markdownLines(), ...commentLines()].filter((x) => /webhook/i.test(x.text))) {
    for (const [, word] of l.text.matchAll(/\b(one|two|both|three|four|five|\d+)\s+(?:webhook\s+)?entries/gi)) {
      seen++;
      const n = NUMBERS[word!.toLowerCase()] ?? Number(word);
      if (n !== count) wrong.push(`${where(l)}: ${word} (manifests/webhook/mutating-webhook.yaml has ${count})`);
    }
  }
  assert.ok(seen >= 2, `only ${seen} counts found`);
  assert.deepEqual(wrong, []);
});

test('every `npm run` script the docs name is in package.json', () => {
  const scripts = (
    JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const wrong: string[] = [];
  let seen = 0;
  for (const l of [...markdownLines(), ...commentLines()]) {
    for (const [, name] of l.text.matchAll(/\bnpm run ([\w:-]+)/g)) {
      seen++;
      if (!(name! in scripts)) wrong.push(`${where(l)}: npm run ${name}`);
    }
  }
  assert.ok(seen > 10, `only ${seen} npm run lines found`);
  assert.deepEqual(wrong, []);
});

test('every Relay in a code block of the docs is valid (what an operator pastes is accepted)', () => {
  const wrong: string[] = [];
  let seen = 0;
  for (const b of codeBlocks()) {
    // A relay written through a here-document (`sudo tee … <<'YAML'`) counts as well.
    const body = /<<'?YAML'?\n([\s\S]*?)\nYAML\b/.exec(b.text)?.[1] ?? b.text;
    if (!/^kind: Relay$/m.test(body)) continue;
    for (const doc of parseDocuments(body, where(b))) {
      seen++;
      for (const p of validateRelay(doc).problems) wrong.push(`${where(b)}: ${formatProblem(p)}`);
    }
  }
  assert.ok(seen >= 2, `only ${seen} Relays found in the docs' code blocks`);
  assert.deepEqual(wrong, []);
});

test("docs/csi.md's consumer volume is exactly the one the webhook injects in CSI mode", () => {
  const block = codeBlocks().find((b) => b.file === 'docs/csi.md' && /driver: csi\.socat\.io/.test(b.text));
  assert.ok(block, 'docs/csi.md shows the injected csi volume');
  const shown = (parse(block.text) as { volumes: { name: string }[] }).volumes[0]!;
  const relay = validateRelay({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'kube-scheduler' },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
  }).resolved!;
  assert.deepEqual(shown, sidecarVolume(relay, defaultInjectOptions({ volumeSource: 'csi' })), where(block));
});

/**
 * Names in backticks that belong to other projects: a Kubernetes pod state, a prometheus-operator field, a
 * Node.js internal.
 */
const FOREIGN_IDENTIFIERS = new Set(['ContainerCreating', 'podMonitorNamespaceSelector', 'writeUtf8String']);

test('every code identifier the docs name in backticks (camelCase, PascalCase, CONSTANT_CASE, a call) occurs in the code or the manifests', () => {
  const words = new Set(
    sourceText([...CODE_DIRS, 'manifests', 'charts'], /\.(ts|sh|ya?ml|tpl|proto)$/).match(/[A-Za-z_][A-Za-z0-9_]*/g),
  );
  const shape = /^(?:[a-z]+[A-Z]\w*|[A-Z][a-z0-9]+[A-Z]\w*|[A-Z][A-Z0-9]*_[A-Z0-9_]+)$/;
  const wrong: string[] = [];
  let seen = 0;
  for (const l of markdownLines()) {
    for (const [, id] of l.text.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)(?:\([^`]*\))?`/g)) {
      if (!shape.test(id!)) continue;
      seen++;
      if (!words.has(id!) && !FOREIGN_IDENTIFIERS.has(id!)) wrong.push(`${where(l)}: ${id}`);
    }
  }
  assert.ok(seen > 100, `only ${seen} identifiers found`);
  assert.deepEqual(wrong, []);
});

test('every socat.io/ label, annotation or API version the docs name is one the code or the manifests use', () => {
  const text = sourceText([...CODE_DIRS, 'manifests'], /\.(ts|ya?ml)$/);
  const used = new Set([...text.matchAll(/(?<![\w.-])socat\.io\/[a-z0-9][a-z0-9.-]*[a-z0-9]/g)].map((m) => m[0]));
  const wrong: string[] = [];
  let seen = 0;
  for (const l of [...markdownLines(), ...commentLines()]) {
    // `kubectl label pod P socat.io/consume-` removes the label: the key is socat.io/consume.
    for (const [key] of l.text.matchAll(/(?<![\w.-])socat\.io\/[a-z0-9][a-z0-9.-]*[a-z0-9]/g)) {
      seen++;
      if (!used.has(key)) wrong.push(`${where(l)}: ${key}`);
    }
  }
  assert.ok(used.has('socat.io/injected') && seen > 50, `only ${seen} socat.io/ keys found`);
  assert.deepEqual([...new Set(wrong)], []);
});

test("docs/security.md's RBAC table grants exactly the controller's ClusterRole and Role: every resource with its verbs", () => {
  const rows = tableRows('docs/security.md', ['rule', 'why']);
  assert.ok(rows.length > 0, 'docs/security.md has the RBAC table (| rule | why |)');
  const documented = new Map<string, string[]>();
  for (const { row } of rows) {
    for (const m of row[0]!.matchAll(/`([a-z/]+)`\s+([a-z]+(?:,\s*[a-z]+)*)/g))
      documented.set(m[1]!, m[2]!.split(/,\s*/).sort());
  }
  const granted = new Map<string, string[]>();
  for (const o of manifestObjects()) {
    if (!['ClusterRole', 'Role'].includes(o.kind) || !o.metadata.name.startsWith('socat-relay-controller')) continue;
    for (const r of o.rules as { resources?: string[]; verbs: string[] }[])
      for (const res of r.resources ?? []) granted.set(res, [...r.verbs].sort());
  }
  assert.ok(granted.has('leases') && granted.has('relays/status'), 'the ClusterRole and the leases Role are read');
  assert.deepEqual(Object.fromEntries([...documented].sort()), Object.fromEntries([...granted].sort()));
});

test("README's Layout names every top-level folder and every script in scripts/", () => {
  const rows = tableRows('README.md', ['folder', 'what']);
  const named = new Set(
    rows.flatMap(({ row }) => [...row.join(' ').matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, ''))),
  );
  const folders = readdirSync(REPO).filter(
    (n) => !n.startsWith('.') && !['node_modules', 'dist'].includes(n) && statSync(path.join(REPO, n)).isDirectory(),
  );
  const scripts = readdirSync(path.join(REPO, 'scripts'));
  assert.ok(folders.includes('relay') && scripts.includes('setup.sh'));
  assert.deepEqual(
    [
      ...folders.filter((f) => !named.has(f) && ![...named].some((n) => n.startsWith(`${f}/`))),
      ...scripts.filter((f) => !named.has(f)),
    ],
    [],
  );
});

/** Messages the docs quote that other programs write: Pod Security admission's, the API server's. */
const FOREIGN_MESSAGES = new Set([
  'violates PodSecurity "baseline:latest": hostPath volumes',
  'failed calling webhook "relays.socat.io"',
]);

/**
 * The messages the docs quote: troubleshooting's denials, csi.md's errors, and the text after `denied the
 * request:` / `desc =` in a code block.
 */
function quotedMessages(): { at: string; text: string }[] {
  const out: { at: string; text: string }[] = [];
  const tables: [string, string[], number][] = [
    ['docs/troubleshooting.md', ["message (from `kubectl apply` / the workload's events)", 'cause', 'fix'], 0],
    ['docs/csi.md', ['code', 'message', 'what to do'], 1],
  ];
  for (const [file, header, col] of tables) {
    const rows = tableRows(file, header);
    assert.ok(rows.length > 3, `${file}: the table of messages (${header.join(' | ')})`);
    // Every span of the cell but a policy's name: `…` (policy `socat-relay-injected-pods`).
    for (const { row, line } of rows)
      for (const m of row[col]!.matchAll(/(?<!policy )`([^`]+)`/g)) out.push({ at: `${file}:${line}`, text: m[1]! });
  }
  for (const b of codeBlocks()) {
    const m = /(?:denied the request: |desc = )([\s\S]*)$/.exec(b.text.trim());
    if (m) out.push({ at: where(b), text: m[1]!.replace(/\s*\n\s*/g, ' ') });
  }
  return out;
}

test("every message the docs quote can be one the code or a manifest's CEL writes (placeholders X, N, P, C, R as names, … as anything)", () => {
  const templates = [...codeMessages(), ...celMessages()].map(templatePattern).filter((t) => literalLength(t) >= 12);
  const quoted = quotedMessages();
  assert.ok(
    quoted.length > 15 && quoted.some((q) => q.at.startsWith('docs/pod-security.md')),
    `only ${quoted.length} quoted messages found`,
  );
  const wrong = quoted
    .filter((q) => !FOREIGN_MESSAGES.has(q.text))
    .filter((q) => {
      const d = docPattern(q.text);
      // Most of the quote's own words must meet the code's words (a concrete value may meet a wildcard).
      return !templates.some((t) => alignedLiterals(d, t) >= 0.5 * literalLength(d));
    })
    .map((q) => `${q.at}: ${q.text}`);
  assert.deepEqual(wrong, []);
});

test("docs/csi.md's flag table gives the csi command's defaults (parseCsiArgs without flags)", () => {
  const rows = tableRows('docs/csi.md', ['flag', 'default', 'meaning']);
  assert.ok(rows.length >= 8, 'docs/csi.md has the flag table (| flag | default | meaning |)');
  const args = (env: NodeJS.ProcessEnv): CsiArgs => {
    const parsed = parseCsiArgs([], env, () => 'host-name');
    assert.notEqual(parsed, 'help');
    return parsed as CsiArgs;
  };
  const a = args({ NODE_NAME: 'node-from-env' });
  assert.equal(args({}).nodeId, 'host-name', 'without NODE_NAME: the host name');
  const actual: Record<string, string> = {
    '--config-dir': a.configDir,
    '--socket-dir': a.socketDir,
    '--kubelet-dir': a.kubeletDir,
    '--driver-name': a.driverName,
    '--health-listen': a.healthListen ? `${a.healthListen.host}:${a.healthListen.port}` : 'off',
    '--node-id': a.nodeId === 'node-from-env' ? 'env `NODE_NAME`, else the host name' : a.nodeId,
    '--no-register': a.register ? 'off' : 'on',
    '--log-level': `\`${a.logLevel}\` (env \`LOG_LEVEL\`)`,
  };
  for (const { row, line } of rows) {
    const flag = /^`(--[\w-]+)/.exec(row[0]!)![1]!;
    assert.ok(flag in actual, `docs/csi.md:${line}: ${flag} is not a flag this test knows`);
    const want = actual[flag]!;
    assert.equal(
      row[1],
      want.includes('`') || want === 'off' || want === 'on' ? want : `\`${want}\``,
      `docs/csi.md:${line}: the default of ${flag}`,
    );
  }
});
