// The agent's status file as the reconcile holds it: read (bounded) and parsed once per change of its
// bytes, then viewed at a given time — the staleness rule needs "now", the bytes do not change for it.
import { readStatusFile, type AgentStatus } from '../../node-contract/index.js';
import { agentViewOf, parseAgentView, type AgentView } from './node-status.js';

type Read =
  | { kind: 'text'; text: string; parsed: { status: AgentStatus } | { error: string } }
  | { kind: 'missing' }
  | { kind: 'unreadable'; message: string };

export class AgentStatusFile {
  private last: Read = { kind: 'missing' };
  private lastText: string | undefined;

  constructor(readonly file: string) {}

  /** Reads the file; true when its bytes (or its absence) changed since the last read. */
  async refresh(): Promise<boolean> {
    let next: Read;
    try {
      const text = await readStatusFile(this.file);
      if (this.last.kind === 'text' && text === this.lastText) return false;
      next = { kind: 'text', text, parsed: parseAgentView(text, this.file) };
      this.lastText = text;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      next =
        code === 'ENOENT'
          ? { kind: 'missing' }
          : { kind: 'unreadable', message: `cannot read ${this.file}: ${(e as Error).message}` };
      this.lastText = undefined;
    }
    const changed =
      next.kind !== this.last.kind ||
      next.kind === 'text' ||
      (next.kind === 'unreadable' && this.last.kind === 'unreadable' && next.message !== this.last.message);
    this.last = next;
    return changed;
  }

  /** What the reconcile reports from, at `nowMs`. */
  view(nowMs: number): AgentView {
    const r = this.last;
    if (r.kind === 'missing')
      return { kind: 'missing', message: `no agent status at ${this.file}: is the node agent (static pod) running?` };
    if (r.kind === 'unreadable') return { kind: 'unreadable', message: r.message };
    if ('error' in r.parsed) return { kind: 'unreadable', message: r.parsed.error };
    return agentViewOf(r.parsed.status, nowMs);
  }
}
