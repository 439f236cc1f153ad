// The agent and the uid folder: a node file with metadata.uid is served at <socketDir>/<relay>/<uid>/socket
// (what the status file reports, so the next agent finds an orphan there); when the uid changes (the
// Relay was re-created), socat moves to the new folder and the old folder is removed; a file without
// uid serves <socketDir>/<relay>/socket and leaves no uid folder behind. Real agent, real socat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { socketPath } from '../../../relay/index.js';
import {
  getViaSocket,
  httpService,
  readStatusFile,
  relayObject,
  socatUnavailable,
  startAgent,
  tempDirs,
  waitFor,
} from '../../harness/agent.js';
import { required } from '../../harness/required.js';

const skip = required(socatUnavailable());
const UID_A = '11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const UID_B = '22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

test(
  'uid folder: served there, moved when the uid changes (the old folder removed), back to the plain folder without uid',
  { skip },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-uid');
    const svc = await httpService(t, 'u');
    const file = path.join(dirs.configDir, 'u.yaml');
    const write = (uid?: string) => {
      const doc = relayObject('u', { target: { host: '127.0.0.1', port: svc.port } }) as {
        metadata: Record<string, unknown>;
      };
      if (uid) doc.metadata.uid = uid;
      return writeFile(file, stringify(doc));
    };
    await write(UID_A);
    await startAgent(t, dirs);
    const a = socketPath(dirs.socketDir, 'u', UID_A);
    assert.equal(await waitFor('u answers in its uid folder', () => getViaSocket(a).catch(() => undefined)), 'u GET /');
    await waitFor(
      "the status file names the uid folder's socket",
      () => readStatusFile(dirs.socketDir).relays.u?.socket === a,
    );
    assert.equal(existsSync(socketPath(dirs.socketDir, 'u')), false, 'no socket in the folder of the name');

    await write(UID_B);
    const b = socketPath(dirs.socketDir, 'u', UID_B);
    assert.equal(
      await waitFor('u answers in the new uid folder', () => getViaSocket(b).catch(() => undefined)),
      'u GET /',
    );
    await waitFor('the old uid folder removed', () => !existsSync(path.dirname(a)));
    await waitFor('the status file names the new socket', () => readStatusFile(dirs.socketDir).relays.u?.socket === b);

    await write(undefined);
    const plain = socketPath(dirs.socketDir, 'u');
    assert.equal(
      await waitFor('u answers in the folder of the name', () => getViaSocket(plain).catch(() => undefined)),
      'u GET /',
    );
    await waitFor('no uid folder left', () => !existsSync(path.dirname(b)));
  },
);
