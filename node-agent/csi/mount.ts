// The mount calls, behind a small interface so the driver can be driven with another implementation.
// The real one runs util-linux `mount`/`umount` (execFile, no shell; every path is absolute, so none
// can be read as an option) and reads /proc/self/mountinfo to tell whether a path is a mount point.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface MountPoint {
  /** Where it is mounted (mountinfo field 5, unescaped). */
  mountPoint: string;
  /**
   * The folder of its filesystem that is mounted there (field 4: `/` for a whole filesystem, a subfolder for a bind
   * mount).
   */
  root: string;
  /** The per-mount `ro` flag (field 6). */
  readOnly: boolean;
  fsType: string;
  source: string;
  /** In a peer group (`shared:N` among the optional fields): mounts made under it propagate to its peers. */
  shared: boolean;
}

export interface Mounter {
  /** The topmost mount at exactly `target`, or undefined when `target` is not a mount point. */
  mountAt(target: string): Promise<MountPoint | undefined>;
  /** `mount --bind source target` */
  bind(source: string, target: string): Promise<void>;
  /** Makes the bind mount at `target` read-only, nosuid, nodev, noexec. */
  remountReadOnly(target: string): Promise<void>;
  /** `umount target` (the topmost mount there). */
  unmount(target: string): Promise<void>;
  /** The mount `dir` lies on (the topmost with the longest mount point at or above it). */
  containing(dir: string): Promise<MountPoint | undefined>;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses /proc/<pid>/mountinfo (proc(5)); lines that do not have its shape are skipped. In mount order. */
export function parseMountInfo(text: string): MountPoint[] {
  const out: MountPoint[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || sep + 2 >= f.length) continue;
    out.push({
      root: unescape(f[3]!),
      mountPoint: unescape(f[4]!),
      readOnly: f[5]!.split(',').includes('ro'),
      fsType: f[sep + 1]!,
      source: unescape(f[sep + 2]!),
      shared: f.slice(6, sep).some((o) => o.startsWith('shared:')),
    });
  }
  return out;
}

/** The last (topmost) mount at `target`. */
export function findMount(mounts: readonly MountPoint[], target: string): MountPoint | undefined {
  for (let i = mounts.length - 1; i >= 0; i--) if (mounts[i]!.mountPoint === target) return mounts[i];
  return undefined;
}

/** The mount `dir` (absolute, normal) lies on: the longest mount point at or above it, the topmost of those. */
export function mountContaining(mounts: readonly MountPoint[], dir: string): MountPoint | undefined {
  let best: MountPoint | undefined;
  for (const m of mounts) {
    const above = m.mountPoint === '/' || dir === m.mountPoint || dir.startsWith(`${m.mountPoint}/`);
    if (above && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

class MountCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    message: string,
  ) {
    super(`${argv.join(' ')}: ${message}`);
    this.name = 'MountCommandError';
  }
}

export interface SystemMounterOptions {
  /** Default /proc/self/mountinfo. */
  mountInfoPath?: string;
  /** Per command, default 30 s (a hung NFS mount elsewhere must not hang a call forever). */
  timeoutMs?: number;
  mountBin?: string;
  umountBin?: string;
}

export class SystemMounter implements Mounter {
  private readonly mountInfoPath: string;
  private readonly timeoutMs: number;
  private readonly mountBin: string;
  private readonly umountBin: string;

  constructor(opts: SystemMounterOptions = {}) {
    this.mountInfoPath = opts.mountInfoPath ?? '/proc/self/mountinfo';
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.mountBin = opts.mountBin ?? 'mount';
    this.umountBin = opts.umountBin ?? 'umount';
  }

  async mountAt(target: string): Promise<MountPoint | undefined> {
    return findMount(parseMountInfo(await readFile(this.mountInfoPath, 'utf8')), target);
  }

  async containing(dir: string): Promise<MountPoint | undefined> {
    return mountContaining(parseMountInfo(await readFile(this.mountInfoPath, 'utf8')), dir);
  }

  bind(source: string, target: string): Promise<void> {
    return this.run(this.mountBin, ['--bind'], [source, target]);
  }

  remountReadOnly(target: string): Promise<void> {
    return this.run(this.mountBin, ['-o', 'remount,bind,ro,nosuid,nodev,noexec'], [target]);
  }

  unmount(target: string): Promise<void> {
    return this.run(this.umountBin, [], [target]);
  }

  /** Runs `file options… paths…`; a path that is not absolute is refused (it could be read as an option). */
  private run(file: string, options: string[], paths: string[]): Promise<void> {
    const args = [...options, ...paths];
    if (paths.some((p) => !p.startsWith('/')))
      return Promise.reject(new MountCommandError([file, ...args], 'every path must be absolute'));
    return new Promise((resolve, reject) => {
      execFile(file, args, { timeout: this.timeoutMs, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        const why = stderr.trim() || err.message;
        reject(new MountCommandError([file, ...args], why));
      });
    });
  }
}
