// The Go-built tools the rendering tests use — kubectl (which carries kustomize) and helm — always
// from TESTBIN_DIR (scripts/build-testbin.sh components k8s and helm), never whatever is on PATH, so a
// fresh machine tests with the pinned versions. Missing: the tests skip with the command that builds
// them, except in CI, where a failing test names what is missing (test/harness/required.ts).
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_TESTBIN } from './binaries.js';
import { required } from './required.js';

export type Tool = 'kubectl' | 'helm';
const COMPONENT: Record<Tool, string> = { kubectl: 'k8s', helm: 'helm' };

export function toolPath(tool: Tool, dir = DEFAULT_TESTBIN): string {
  return path.join(dir, tool);
}

function missingTool(tool: Tool, dir = DEFAULT_TESTBIN): string | undefined {
  try {
    accessSync(toolPath(tool, dir), constants.X_OK);
    return undefined;
  } catch {
    return `${tool} not found in ${dir}: run 'bash scripts/build-testbin.sh ${COMPONENT[tool]}' (or 'bash scripts/setup.sh'; TESTBIN_DIR=… uses binaries built elsewhere)`;
  }
}

/** For `{ skip }`: false when the tools are there, else the reason (in CI: a failure, see required()). */
export function skipWithout(...tools: Tool[]): string | false {
  return required(...tools.map((t) => missingTool(t)));
}

const exec = promisify(execFile);

/** Runs a tool from TESTBIN_DIR; throws its message when the tool is missing, stderr when it fails. */
export async function runTool(
  tool: Tool,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  const missing = missingTool(tool);
  if (missing) throw new Error(missing);
  try {
    const { stdout } = await exec(toolPath(tool), args, {
      cwd: opts.cwd,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`, { cause: e });
  }
}
