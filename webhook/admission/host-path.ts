// Where a pod's own hostPath points relative to the node's socket folder. The path is normalised the
// way the node resolves it: empty and `.` components dropped, `..` applied, a trailing `/` ignored,
// and `/var/run` read as `/run` (a symlink to it on every current distribution) at every step, so
// `/var/run/../run` resolves as the kernel would. Other symlinks on the node cannot be known here.

export function normaliseHostPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
    if (out.length === 2 && out[0] === 'var' && out[1] === 'run') out.splice(0, 2, 'run');
  }
  return `/${out.join('/')}`;
}

export type PathRelation = 'at' | 'under' | 'above' | 'apart';

/** How `p` relates to `root` once both are normalised: the root itself, inside it, a parent of it, or apart. */
export function relationToRoot(p: string, root: string): PathRelation {
  const a = normaliseHostPath(p);
  const r = normaliseHostPath(root);
  if (a === r) return 'at';
  if (r === '/' || a.startsWith(`${r}/`)) return 'under';
  if (a === '/' || r.startsWith(`${a}/`)) return 'above';
  return 'apart';
}

/** For messages: the path as written, plus what it resolves to when that differs. */
export function describeHostPath(p: string): string {
  const n = normaliseHostPath(p);
  return n === p ? JSON.stringify(p) : `${JSON.stringify(p)} (= ${n})`;
}
