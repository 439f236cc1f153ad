// The shell blocks of the docs, so the kind suite runs a user's commands as written: the fenced `sh`
// blocks under a heading (up to the next heading of the same or a higher level), with the few
// substitutions a test machine needs made explicit by the caller. Pure: text in, text out.

/** Every ```sh block under the heading whose text is `heading` (exact, without the #s), in order. */
export function shBlocks(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && l.replace(/^#+ /, '').trim() === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  const blocks: string[] = [];
  let current: string[] | null = null;
  for (const line of lines.slice(start + 1)) {
    if (current === null) {
      const h = /^(#+) /.exec(line);
      if (h && h[1]!.length <= level) break;
      if (/^```(sh|bash)\s*$/.test(line)) current = [];
    } else if (/^```\s*$/.test(line)) {
      blocks.push(current.join('\n'));
      current = null;
    } else {
      current.push(line);
    }
  }
  if (blocks.length === 0) throw new Error(`no sh block under "${heading}"`);
  return blocks;
}

/**
 * `script` with each [from, to] replaced — every `from` must occur (a doc that changed shape fails the
 * test instead of running something else).
 */
export function substitute(script: string, replacements: [string | RegExp, string][]): string {
  let out = script;
  for (const [from, to] of replacements) {
    const found = typeof from === 'string' ? out.includes(from) : from.test(out);
    if (!found) throw new Error(`the docs' commands no longer contain ${String(from)}:\n${script}`);
    out = typeof from === 'string' ? out.replaceAll(from, to) : out.replace(from, to);
  }
  return out;
}

/**
 * The commands docs/install.md's prose gives for a Helm uninstall: `helm uninstall …` (its post-delete hook
 * cleans the nodes), then the CRD and namespace deletions that end it. Throws when the paragraph changed.
 */
export function helmUninstallCommands(installMd: string): string[] {
  const prose = installMd.replace(/\s+/g, ' ');
  const helmUninstall = /`(helm uninstall socat-relay -n socat-relay-system)`: its post-delete hook/.exec(prose)?.[1];
  const end =
    /`(kubectl delete crd relays\.socat\.io[^`]*)` and `(kubectl delete namespace socat-relay-system)` end it/.exec(
      prose,
    );
  if (!helmUninstall || !end) throw new Error("docs/install.md's Helm uninstall paragraph changed");
  return [helmUninstall, end[1]!, end[2]!];
}
