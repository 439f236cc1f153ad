// The node agent: watches the config folder (lib/folder-watch.ts + periodic resync, debounced), keeps exactly one
// socat per valid relay through the Supervisor, cleans the folders of removed relays and writes its
// status file after every change. No Kubernetes API: files in, processes and a status file out.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import type { BackoffPolicy } from '../lib/backoff.js';
import { every, realSchedule, sleep, type NowFn, type ScheduleFn } from '../lib/clock.js';
import { Coalescer } from '../lib/coalesce.js';
import { FolderWatch } from '../lib/folder-watch.js';
import type { Logger } from '../lib/log.js';
import {
  AGENT_DIR,
  agentStatusPath,
  ConfigMemo,
  formatAgentStatus,
  interpretConfig,
  parseAgentStatus,
  readConfigDir,
  readStatusFile,
  readVolumeRecords,
  socketPath,
  volumeRecordsDir,
  writeFileAtomic,
  type AgentStatus,
  type ConfigState,
  type VolumeRecords,
} from '../node-contract/index.js';
import { nodeArgv } from '../relay/index.js';
import { emptyRelayDir, prepareRelayDir, pruneRelayDirs, staleRelayDirs } from './folders.js';
import { isVolumeProcess, VolumeListeners } from './volumes.js';
import { AgentMetrics } from './metrics.js';
import { plan, type Command } from './plan.js';
import { agentRunning, orphanPids, procCmdline, type CmdlineFn } from './orphans.js';
import { buildAgentStatus } from './status.js';
import { killGroup, Supervisor, type KillFn, type SpawnFn } from './supervisor.js';

/** The config and volume-record folders' checks: a backstop every 10 s while watched, every second while missing. */
const FOLDER_TICKS = { tickMs: 10_000, unwatchedTickMs: 1000 };

export interface AgentOptions {
  configDir: string;
  socketDir: string;
  socketGid: number;
  socatPath: string;
  log: Logger;
  registry?: Registry;
  /** Full re-read interval (ms), in case a watch event was missed. Default 30 s. */
  resyncMs?: number;
  /** Quiet time after a folder change before re-reading (ms). Default 100. */
  debounceMs?: number;
  /**
   * SIGTERM → SIGKILL grace when stopping a socat (ms); when the agent stops, the time its socats'
   * open connections get to finish. Default 3000.
   */
  graceMs?: number;
  /**
   * How often each socket path is checked to be still served, bound again when removed (ms): the backstop
   * of the socket folders' watch, which finds a removal at once. Default 5000.
   */
  socketCheckMs?: number;
  /** Run socat with `-d -d` to count connections. Default true. */
  logConnections?: boolean;
  backoff?: BackoffPolicy;
  spawn?: SpawnFn;
  kill?: KillFn;
  /** Reads a process's command line (orphan detection). Default /proc/<pid>/cmdline. */
  cmdline?: CmdlineFn;
  /** The time seams (lib/clock.ts): restarts, the stop grace, the debounce, the resync, the status writes' pause. */
  now?: NowFn;
  schedule?: ScheduleFn;
}

export class Agent {
  readonly metrics: AgentMetrics;
  readonly registry: Registry;
  private readonly supervisor: Supervisor;
  private readonly now: NowFn;
  private readonly schedule: ScheduleFn;
  private readonly kill: KillFn;
  private config: ConfigState = { wanted: new Map(), errors: [], warnings: [] };
  /** Each config file's parse and validation, kept while its text is unchanged (config.ts). */
  private readonly configMemo = new ConfigMemo();
  private folder?: FolderWatch;
  private volumeFolder?: FolderWatch;
  /** One listener per published CSI volume whose right still holds (volumes.ts). */
  private readonly volumes: VolumeListeners;
  private stopResync?: () => void;
  private stopSocketCheck?: () => void;
  private cancelDebounce?: () => void;
  /** Re-reads of the folder: one at a time, requests meanwhile become one more. */
  private readonly reloader: Coalescer;
  /** Status writes: one at a time, a burst (e.g. a refused target logging an error per connection) one per 50 ms. */
  private readonly writer: Coalescer;
  private stopped = false;
  private started = false;
  private startCalled = false;
  private readonly startedAt: string;
  private lastStatus?: AgentStatus;

  constructor(private readonly opts: AgentOptions) {
    this.now = opts.now ?? Date.now;
    this.schedule = opts.schedule ?? realSchedule;
    this.kill = opts.kill ?? killGroup;
    const stopped = (): boolean => this.stopped;
    this.reloader = new Coalescer(() => this.reloadNow(), { stopped });
    this.writer = new Coalescer(() => this.writeStatus(), { pauseMs: 50, schedule: this.schedule, stopped });
    this.startedAt = new Date(this.now()).toISOString();
    this.registry = opts.registry ?? new Registry();
    this.metrics = new AgentMetrics(this.registry, {
      socketDir: opts.socketDir,
      socketOf: (r) => socketPath(opts.socketDir, r, this.uidOf(r)),
    });
    this.volumes = new VolumeListeners({ socketDir: opts.socketDir, socketGid: opts.socketGid, log: opts.log });
    this.supervisor = new Supervisor({
      socatPath: opts.socatPath,
      log: opts.log,
      prepare: (name) =>
        isVolumeProcess(name)
          ? this.volumes.prepare(name)
          : prepareRelayDir(opts.socketDir, name, this.uidOf(name), opts.socketGid, opts.log),
      cleanup: (name) => (isVolumeProcess(name) ? this.volumes.cleanup(name) : emptyRelayDir(opts.socketDir, name)),
      onChange: () => this.statusChanged(),
      onRestart: (name) => this.metrics.restarts.inc({ relay: name }),
      onConnection: (name) => this.metrics.connections.inc({ relay: name }),
      ...(opts.spawn ? { spawn: opts.spawn } : {}),
      kill: this.kill,
      now: this.now,
      schedule: this.schedule,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
      // Every socket is taken over by rename and drained on stop: a rollout loses no connection (handoff.ts).
      handoff: true,
    });
  }

  get statusFile(): string {
    return agentStatusPath(this.opts.socketDir);
  }

  /** The last status written (tests, /healthz). */
  status(): AgentStatus | undefined {
    return this.lastStatus;
  }

  isStarted(): boolean {
    return this.started && !this.stopped;
  }

  async start(): Promise<void> {
    this.startCalled = true;
    await mkdir(path.join(this.opts.socketDir, AGENT_DIR), { recursive: true, mode: 0o755 });
    await mkdir(volumeRecordsDir(this.opts.socketDir), { recursive: true, mode: 0o755 }); // watched from the start
    await this.stopOrphans();
    const first = await this.readConfig();
    for (const name of await staleRelayDirs(this.opts.socketDir, new Set(first.wanted.keys()))) {
      this.opts.log.info({ relay: name }, 'cleaning the folder of a relay that is no longer configured');
      await emptyRelayDir(this.opts.socketDir, name);
    }
    await this.reload(first);
    // Started means serving: every socket of the first pass is in place (a rollout's old agent may stop
    // from now on: ready-file, cli/agent.ts).
    await this.supervisor.settled();
    // The folder watch re-arms itself on a deleted or replaced folder and looks for a missing one every
    // second, so a re-created folder is watched (and read) at once rather than at the next resync; while
    // it is armed, its check is a backstop every 10 s.
    this.folder = new FolderWatch({
      dir: this.opts.configDir,
      onChange: () => this.requestReload(),
      debounceMs: 0,
      ...FOLDER_TICKS,
      log: this.opts.log,
    }).start();
    // The CSI plugin's records of published volumes: a new one is served, a removed one stopped, at once.
    this.volumeFolder = new FolderWatch({
      dir: volumeRecordsDir(this.opts.socketDir),
      onChange: () => this.requestReload(),
      debounceMs: 0,
      ...FOLDER_TICKS,
      log: this.opts.log,
    }).start();
    const resync = this.opts.resyncMs ?? 30_000;
    this.stopResync = every(
      () => {
        this.requestReload();
        this.statusChanged(); // the heartbeat: updatedAt moves even when nothing else does
      },
      resync,
      this.schedule,
    );
    this.stopSocketCheck = every(
      () => void this.supervisor.checkSockets(),
      this.opts.socketCheckMs ?? 5000,
      this.schedule,
    );
    this.started = true;
    this.opts.log.info(
      { configDir: this.opts.configDir, socketDir: this.opts.socketDir, relays: first.wanted.size },
      'agent started',
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.startCalled) return; // never touched the sockets or the status file: leave them to whoever owns them
    this.folder?.close();
    this.volumeFolder?.close();
    this.stopResync?.();
    this.stopSocketCheck?.();
    this.cancelDebounce?.();
    await this.reloader.idle();
    const { handedOver } = await this.supervisor.stopAll();
    // A newer agent serving the sockets (a rollout) writes the status: a last "not running" from this
    // one would have the controller report the node's relays down until that agent's next write.
    if (handedOver === 0) await this.flushStatus();
    else {
      await this.writer.idle();
      this.opts.log.info({ sockets: handedOver }, 'a newer agent serves the sockets: its status file stands');
    }
    this.opts.log.info({}, 'agent stopped');
  }

  /** Schedules a re-read of the config folder after the debounce time. */
  requestReload(): void {
    if (this.stopped) return;
    this.cancelDebounce?.();
    this.cancelDebounce = this.schedule(() => void this.reloadSerial(), this.opts.debounceMs ?? 100);
  }

  /** Re-reads the folder now; concurrent calls coalesce into one more run. */
  reloadSerial(): Promise<void> {
    return this.reloader.run();
  }

  /** One re-read of the folder and the volume records; a failure is logged (the next change or resync retries). */
  private async reloadNow(): Promise<void> {
    try {
      await this.reload(await this.readConfig(), await this.readVolumes());
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'reloading the config folder failed');
    }
  }

  private async readConfig(): Promise<ConfigState> {
    const { files, errors } = await readConfigDir(this.opts.configDir);
    const state = interpretConfig(files, this.configMemo);
    for (const e of errors) state.errors.push(e);
    state.errors.sort((a, b) => (a.file < b.file ? -1 : 1));
    return state;
  }

  private async readVolumes(): Promise<VolumeRecords> {
    try {
      return await readVolumeRecords(this.opts.socketDir);
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'cannot read the CSI volume records');
      return { records: new Map(), errors: [] };
    }
  }

  private argvOf(state: ConfigState): Map<string, Command> {
    const out = new Map<string, Command>();
    for (const [name, w] of state.wanted) {
      out.set(name, {
        argv: nodeArgv(w.resolved, {
          socketDir: this.opts.socketDir,
          socketGid: this.opts.socketGid,
          logConnections: this.opts.logConnections ?? true,
        }),
      });
    }
    return out;
  }

  private async reload(state: ConfigState, volumes?: VolumeRecords): Promise<void> {
    if (this.stopped) return;
    const before = new Set(this.config.errors.map((e) => `${e.file}\0${e.error}`));
    for (const e of state.errors) {
      if (!before.has(`${e.file}\0${e.error}`))
        this.opts.log.error({ file: e.file, relay: e.relay, error: e.error }, 'config file skipped');
    }
    const warned = new Set(this.config.warnings.map((w) => `${w.file}\0${w.message}`));
    for (const w of state.warnings) {
      if (!warned.has(`${w.file}\0${w.message}`)) this.opts.log.warn({ file: w.file }, w.message);
    }
    this.config = state;
    const wanted = this.argvOf(state);
    for (const [name, cmd] of this.volumes.wanted(volumes ?? (await this.readVolumes()), state, {
      socketDir: this.opts.socketDir,
      socketGid: this.opts.socketGid,
      logConnections: this.opts.logConnections ?? true,
    }))
      wanted.set(name, cmd);
    const actions = plan(wanted, this.supervisor.commands());
    for (const a of actions) this.opts.log.info({ relay: a.name, action: a.type }, 'relay change');
    await this.supervisor.apply(actions);
    // A Relay re-created under the same name runs in its new uid folder (its argv changed, so it was
    // restarted above); the old one's folder goes, so no pod mounted for the old Relay reaches the new.
    const uids = new Map([...state.wanted].map(([name, w]) => [name, w.resolved.uid]));
    try {
      for (const p of await pruneRelayDirs(this.opts.socketDir, uids))
        this.opts.log.info({ path: p }, 'removed the folder of an earlier Relay of the same name');
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'could not remove the folders of earlier relays');
    }
    await this.volumes.prune();
    this.statusChanged();
  }

  /** The uid of the wanted relay `name` (its folder `<socketDir>/<name>/<uid>`), if its file has one. */
  private uidOf(name: string): string | undefined {
    return this.config.wanted.get(name)?.resolved.uid;
  }

  /** Stops the socats of a previous agent that was killed without stopping them (see orphans.ts). */
  private async stopOrphans(): Promise<void> {
    let previous: AgentStatus | undefined;
    try {
      previous = parseAgentStatus(await readStatusFile(this.statusFile));
    } catch {
      return; // no previous status, or unreadable: nothing known to stop
    }
    // A previous agent that still runs (the one a rollout replaces, on a node without containers) keeps
    // its socats: the handoff takes their sockets over, and it drains them when it stops.
    if (agentRunning(previous, this.opts.cmdline ?? procCmdline)) return;
    const pids = orphanPids(previous, this.opts.cmdline ?? procCmdline);
    const signal = (pid: number, sig: NodeJS.Signals): void => {
      try {
        this.kill(pid, sig);
      } catch {
        // already gone
      }
    };
    for (const pid of pids) {
      this.opts.log.warn({ pid }, 'stopping a socat left running by a previous agent');
      signal(pid, 'SIGTERM');
    }
    // Wait until they are gone before new socats bind: an exiting socat of an agent from before the
    // handoff unlinks its socket path.
    const cmdline = this.opts.cmdline ?? procCmdline;
    const deadline = this.now() + (this.opts.graceMs ?? 3000);
    while (pids.some((p) => cmdline(p) !== undefined)) {
      if (this.now() > deadline) {
        for (const p of pids) signal(p, 'SIGKILL');
        break;
      }
      await sleep(20, this.schedule);
    }
  }

  private statusChanged(): void {
    const procs = this.supervisor.snapshot().filter((p) => !isVolumeProcess(p.name));
    this.metrics.update(this.config.wanted.size, this.config.errors.length, procs);
    void this.writer.run(); // writeStatus logs its own failures
  }

  private async flushStatus(): Promise<void> {
    await this.writer.idle();
    await this.writeStatus();
  }

  private async writeStatus(): Promise<void> {
    const status = buildAgentStatus({
      agent: {
        pid: process.pid,
        startedAt: this.startedAt,
        configDir: this.opts.configDir,
        socketDir: this.opts.socketDir,
        heartbeatSeconds: (this.opts.resyncMs ?? 30_000) / 1000,
      },
      now: new Date(this.now()).toISOString(),
      config: this.config,
      processes: this.supervisor.snapshot().filter((p) => !isVolumeProcess(p.name)),
      socketOf: (r) => socketPath(this.opts.socketDir, r, this.uidOf(r)),
    });
    this.lastStatus = status;
    try {
      await mkdir(path.dirname(this.statusFile), { recursive: true, mode: 0o755 });
      await writeFileAtomic(this.statusFile, formatAgentStatus(status));
    } catch (e) {
      this.opts.log.error({ file: this.statusFile, err: (e as Error).message }, 'cannot write the status file');
    }
  }
}
