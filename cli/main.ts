#!/usr/bin/env node
// socat-relay: one executable, several commands (README, docs/architecture.md). Each command lives
// in its own file and exports `run(args, io) → exit code`; this file only dispatches.
import type { CommandIO } from './io.js';
import { defaultIO } from './io.js';

const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<{ run: (args: string[], io: CommandIO) => Promise<number> }> }
> = {
  controller: { summary: 'webhook server + node reconcile', load: () => import('./controller.js') },
  agent: { summary: 'node agent: one socat per relay in the config folder', load: () => import('./agent.js') },
  csi: {
    summary: 'CSI node plugin: mounts a relay folder into the pods allowed to consume it',
    load: () => import('./csi.js'),
  },
  inject: { summary: 'offline preview: inject -f POD.yaml --relays RELAYS.yaml', load: () => import('./inject.js') },
  validate: {
    summary: 'validate -f RELAY.yaml: exit 1 with one line per problem',
    load: () => import('./validate.js'),
  },
  'static-pod': {
    summary: 'static-pod [--image IMG]: prints the node agent static-pod manifest',
    load: () => import('./static-pod.js'),
  },
  cleanup: {
    summary: "cleanup [--host-root DIR]: removes socat-relay's folders from a node (uninstall)",
    load: () => import('./cleanup.js'),
  },
  uninstall: {
    summary: 'uninstall [--namespace NS]: node cleanup, Leases, Secrets, RelayNodes (after the workloads are gone)',
    load: () => import('./uninstall.js'),
  },
  check: {
    summary: 'check [--timeout SECONDS]: waits until the API server can call the webhook (after an install)',
    load: () => import('./check.js'),
  },
  sidecars: {
    summary: 'sidecars [-o json]: consumer pods whose sidecar differs from what the webhook injects now',
    load: () => import('./sidecars.js'),
  },
  version: {
    summary: "version [-o json]: this build's version and the Node.js version (also --version)",
    load: () => import('./version.js'),
  },
  certs: {
    summary: 'certs --out DIR: CA + serving certificate, prints the caBundle',
    load: () => import('./certs.js'),
  },
};

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(11)} ${c.summary}`);
  return `usage: socat-relay <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'socat-relay <command> --help' for the options of one command.\n`;
}

export async function main(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') return (await import('./version.js')).run(rest, io);
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.stderr.write(`socat-relay: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  const mod = await cmd.load();
  return mod.run(rest, io);
}

const invokedDirectly =
  process.argv[1] !== undefined &&
  import.meta.url === new URL(`file://${(await import('node:fs')).realpathSync(process.argv[1])}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`socat-relay: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
