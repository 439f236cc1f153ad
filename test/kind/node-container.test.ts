// The node container's settings, run for real here (testcontainers through podman's Docker API) with
// the project's own base image standing in for the kind node image, which cannot always be had: what
// the kind suite relies on — privileged, tmpfs /run and /tmp, /var on a volume of its own (not the
// overlay), the cgroup namespace chosen for the host's cgroup version, the host's /lib/modules
// read-only where there is one (never created on the host), the node's hostname — is what
// the container gets, and the anonymous /var volume goes with the container.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { StartedTestContainer } from 'testcontainers';
import { buildProjectImage } from '../harness/image.js';
import { skipWithoutPodman, startPodmanService, type PodmanService } from '../harness/podman.js';
import { hostCgroupFs, kindNodeContainer } from './cluster.js';
import { cgroupnsFor } from './node-config.js';

const skip = skipWithoutPodman();
const hostHadModules = existsSync('/lib/modules');
const cgroupV2 = cgroupnsFor(hostCgroupFs()) === 'private';

describe("the kind node container's settings (stand-in image)", { skip, timeout: 600_000 }, () => {
  let podman: PodmanService;
  let node: StartedTestContainer;
  let mounts: { source: string; target: string; type: string; options: string[] }[] = [];
  const sh = async (argv: string[]) => {
    const r = await node.exec(argv);
    assert.equal(r.exitCode, 0, `${argv.join(' ')}: ${r.output}`);
    return r.output;
  };

  before(async () => {
    const { pauseImage } = await buildProjectImage();
    podman = await startPodmanService();
    node = await (
      await kindNodeContainer(pauseImage, 'kind-settings')
    )
      .withEntrypoint(['sleep'])
      .withCommand(['infinity'])
      .start();
    mounts = (await sh(['cat', '/proc/self/mounts']))
      .trim()
      .split('\n')
      .map((l) => {
        const [source, target, type, options] = l.split(' ');
        return { source: source!, target: target!, type: type!, options: options!.split(',') };
      });
  });

  after(async () => {
    await node?.stop({ remove: true, removeVolumes: true });
    await podman?.stop();
  });

  test("privileged: every capability, and the host's devices", async () => {
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(await sh(['cat', '/proc/self/status']))?.[1];
    assert.ok(capEff && BigInt(`0x${capEff}`) >= 0x1fffffffffn, `CapEff ${capEff}`);
    assert.ok((await sh(['ls', '/dev'])).split(/\s+/).length > 20, 'host devices visible');
  });

  test('tmpfs on /run and /tmp; /var not on the overlay; /lib/modules read-only', () => {
    const at = (t: string) => mounts.filter((m) => m.target === t).pop();
    assert.equal(at('/run')?.type, 'tmpfs');
    assert.equal(at('/tmp')?.type, 'tmpfs');
    const root = at('/');
    const v = at('/var');
    assert.ok(v, `/var is a mount of its own: ${JSON.stringify(mounts.map((m) => m.target))}`);
    assert.notEqual(v.type, 'overlay', `/var is on ${v.type}`);
    assert.equal(root?.type, 'overlay');
    // /lib is a link to usr/lib in Debian images.
    const modules = at('/lib/modules') ?? at('/usr/lib/modules');
    if (existsSync('/lib/modules')) assert.ok(modules?.options.includes('ro'), '/lib/modules read-only');
    else assert.equal(modules, undefined, 'no /lib/modules on the host: none bound (and none created on the host)');
    assert.equal(existsSync('/lib/modules'), hostHadModules);
  });

  test("the cgroup namespace cgroupnsFor chose (private on cgroup v2: the node sees its own root) and the node's hostname", async () => {
    const unified = (await sh(['cat', '/proc/self/cgroup']))
      .trim()
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (cgroupV2) assert.equal(unified, '0::/', 'private cgroup namespace');
    else assert.notEqual(unified, '0::/', `the host's cgroup namespace on v1: ${unified}`);
    assert.equal((await sh(['cat', '/proc/sys/kernel/hostname'])).trim(), 'kind-settings');
  });

  test('the /var volume is anonymous: listed with the container, gone after it', async () => {
    const inspect = JSON.parse(spawnSync('podman', ['inspect', node.getId()], { encoding: 'utf8' }).stdout)[0];
    const vol = inspect.Mounts.find((m: { Destination: string }) => m.Destination === '/var');
    assert.equal(vol?.Type, 'volume');
    await node.stop({ remove: true, removeVolumes: true });
    assert.notEqual(spawnSync('podman', ['volume', 'exists', vol.Name]).status, 0, `volume ${vol.Name} left behind`);
  });
});
