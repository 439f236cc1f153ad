// The relay a volume names, as the node serves it: the same reading of the config folder as the agent's
// (node-contract/relay-folder.ts — every *.json, *.yaml, *.yml file in name order, the first valid
// definition wins), so the consumer check of a mount weighs the very definition whose socat serves
// the folder being mounted. Read per call, so a changed file takes effect at the next mount; a
// ConfigMemo per folder keeps the parse of files that did not change.
import { ConfigMemo, readNodeRelay as readFromFolder, type NodeRelay } from '../../node-contract/index.js';

export type { NodeRelay };

const memos = new Map<string, ConfigMemo>();

/** Reads relay `name` from the config folder (see readNodeRelay in node-contract). */
export function readNodeRelay(configDir: string, name: string): Promise<NodeRelay> {
  let memo = memos.get(configDir);
  if (!memo) memos.set(configDir, (memo = new ConfigMemo()));
  return readFromFolder(configDir, name, memo);
}
