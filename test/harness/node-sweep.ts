// Removes everything a test node made on the host, from its temp folder alone (synchronous, so exit
// and signal handlers can run it): containers through runc's state in the folder, containerd's shims,
// the pods' network namespaces (the new /run/netns/cni-* holding an address of the node's subnet), the
// bridge and its veths, every mount under the folder, libcni's cached results, and the folder. Each
// node writes its owner (pid + start time) into the folder, so a later run sweeps the node of a run
// that was killed before it could clean up (SIGKILL, a crash in an exit handler).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeDirs } from './node-config.js';
import { nodeDirs } from './node-config.js';
import {
  addressesIn,
  descendants,
  killPids,
  links,
  netnsNames,
  processesMentioning,
  unmountUnder,
  waitGoneSync,
} from './node-host.js';

export const NODE_DIR_PREFIX = 'socat-relay-node-';
const OWNER_FILE = 'owner';
const CNI_CONFLIST = '10-socat-relay.conflist';

export interface NodeNet {
  bridge: string;
  /** a.b.c.0/24 */
  subnet: string;
  network: string;
}

export function cniConflistPath(d: NodeDirs): string {
  return path.join(d.cniConfDir, CNI_CONFLIST);
}

/** The bridge, subnet and network name from the node's CNI config (undefined before it was written). */
function readNodeNet(d: NodeDirs): NodeNet | undefined {
  try {
    const conf = JSON.parse(readFileSync(cniConflistPath(d), 'utf8')) as {
      name: string;
      plugins: { type: string; bridge?: string; ipam?: { ranges?: { subnet: string }[][] } }[];
    };
    const bridge = conf.plugins.find((p) => p.type === 'bridge');
    const subnet = bridge?.ipam?.ranges?.[0]?.[0]?.subnet;
    return bridge?.bridge && subnet ? { bridge: bridge.bridge, subnet, network: conf.name } : undefined;
  } catch {
    return undefined;
  }
}

function inSubnet(ip: string, subnet: string): boolean {
  return ip.startsWith(subnet.replace(/0\/24$/, ''));
}

/** "<pid> <start time in clock ticks>": a pid alone may be reused. */
function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return undefined;
  }
}

export function writeOwner(d: NodeDirs): void {
  writeFileSync(path.join(d.base, OWNER_FILE), processIdentity(process.pid) ?? String(process.pid));
}

/** A folder without an owner file is being made (or is older than this harness): stale only when old. */
const UNOWNED_STALE_MS = 30 * 60_000;

export function ownerAlive(d: NodeDirs): boolean {
  try {
    const owner = readFileSync(path.join(d.base, OWNER_FILE), 'utf8').trim();
    return processIdentity(Number(owner.split(' ')[0])) === owner;
  } catch {
    try {
      return Date.now() - statSync(d.base).mtimeMs < UNOWNED_STALE_MS;
    } catch {
      return true; // gone meanwhile
    }
  }
}

/** Links on the node's bridge, and the bridge. */
function nodeLinks(net: NodeNet): string[] {
  return [
    net.bridge,
    ...links()
      .filter((l) => l.master === net.bridge)
      .map((l) => l.ifname),
  ];
}

/** Sweeps one node's folder; returns what could not be removed (empty: all gone). */
export function sweepNode(d: NodeDirs, o: { net?: NodeNet; netnsBefore?: Set<string> } = {}): string[] {
  const problems: string[] = [];
  const net = o.net ?? readNodeNet(d);
  // Containers still running: kill them through runc's state (the shim gives runc the root
  // <Root>/<containerd namespace>), then the shims and anything else started from the folder.
  for (const ns of existsSync(d.runcRoot) ? readdirSync(d.runcRoot) : []) {
    const root = path.join(d.runcRoot, ns);
    try {
      const list = JSON.parse(
        execFileSync('runc', ['--root', root, 'list', '--format', 'json'], { encoding: 'utf8', stdio: 'pipe' }) ||
          'null',
      ) as { id: string }[] | null;
      for (const c of list ?? []) {
        spawnSync('runc', ['--root', root, 'kill', '--all', c.id, 'KILL'], { stdio: 'ignore' });
        spawnSync('runc', ['--root', root, 'delete', '--force', c.id], { stdio: 'ignore' });
      }
    } catch {
      // no runc state there
    }
  }
  const shims = processesMentioning(d.containerdSocket).map((p) => p.pid);
  const stragglers = [...shims, ...shims.flatMap(descendants), ...processesMentioning(d.base).map((p) => p.pid)];
  killPids(stragglers);
  if (!waitGoneSync(stragglers, 5000)) problems.push(`processes still alive: ${stragglers.join(' ')}`);
  if (net) {
    for (const ns of netnsNames()) {
      if (o.netnsBefore?.has(ns) || !ns.startsWith('cni-')) continue;
      // Ours: an address in the node's subnet; or, when the node's owner knows what was there before, an
      // empty one (CNI DEL took the veth, containerd was stopped before it removed the namespace).
      const ours =
        addressesIn(ns).some((ip) => inSubnet(ip, net.subnet)) ||
        (o.netnsBefore !== undefined && links(ns).every((l) => l.ifname === 'lo'));
      if (ours && spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' }).status !== 0) {
        problems.push(`ip netns delete ${ns} failed`);
      }
    }
    for (const l of nodeLinks(net).reverse()) spawnSync('ip', ['link', 'delete', l], { stdio: 'ignore' });
    // libcni's result cache is in /var/lib/cni whatever the config says; ours carry the network's name.
    try {
      for (const e of readdirSync('/var/lib/cni/results'))
        if (e.startsWith(`${net.network}-`)) unlinkSync(path.join('/var/lib/cni/results', e));
    } catch {
      // no cache
    }
  }
  const stuck = unmountUnder(d.base);
  if (stuck.length) problems.push(`still mounted: ${stuck.join(' ')}`);
  else rmSync(d.base, { recursive: true, force: true, maxRetries: 3 });
  return problems;
}

/** Sweeps the nodes of runs that are gone (their owner process is dead). */
export function sweepStaleNodes(tmp: string = os.tmpdir()): string[] {
  const swept: string[] = [];
  for (const e of readdirSync(tmp)) {
    if (!e.startsWith(NODE_DIR_PREFIX)) continue;
    const d = nodeDirs(path.join(tmp, e));
    if (ownerAlive(d)) continue;
    sweepNode(d);
    swept.push(d.base);
  }
  return swept;
}
