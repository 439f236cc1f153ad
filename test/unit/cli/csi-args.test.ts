// The CSI parts of the manifests: the CSIDriver object, and the `csi` container of the agent pod —
// privileged (mounting), the kubelet's root folder at the same path with Bidirectional propagation,
// args the `csi` command accepts and that match the folders it mounts — while the socat supervisor
// stays unprivileged.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { Pod } from 'kubernetes-models/v1/Pod';
import { CSIDriver } from 'kubernetes-models/storage.k8s.io/v1/CSIDriver';
import { parseCsiArgs } from '../../../cli/csi.js';
import { CSI_DRIVER } from '../../../relay/index.js';
import { REPO_ROOT } from '../../harness/binaries.js';

const read = (f: string): string => readFileSync(path.join(REPO_ROOT, f), 'utf8');

type Any = any;

test('CSIDriver csi.socat.io: no attach, pod info on mount, ephemeral only, fsGroupPolicy None; listed by manifests/ and no-cert-manager/', () => {
  const docs = parseAllDocuments(read('manifests/csi-driver/csidriver.yaml')).map((d) => d.toJS());
  assert.equal(docs.length, 1);
  const d = docs[0];
  assert.doesNotThrow(() => new CSIDriver(d).validate());
  assert.equal(d.metadata.name, CSI_DRIVER);
  assert.deepEqual(
    {
      attachRequired: d.spec.attachRequired,
      podInfoOnMount: d.spec.podInfoOnMount,
      modes: d.spec.volumeLifecycleModes,
      fsGroupPolicy: d.spec.fsGroupPolicy,
    },
    { attachRequired: false, podInfoOnMount: true, modes: ['Ephemeral'], fsGroupPolicy: 'None' },
  );
  assert.deepEqual(parse(read('manifests/csi-driver/kustomization.yaml')).resources, ['csidriver.yaml']);
  assert.ok(parse(read('manifests/kustomization.yaml')).resources.includes('csi-driver'));
  assert.ok(parse(read('manifests/no-cert-manager/kustomization.yaml')).resources.includes('../csi-driver'));
});

test('agent pod: a `csi` container, privileged root, kubelet folder at the same path (Bidirectional), config read-only, sockets writable (volume records), args the command accepts', () => {
  const pod = parse(read('manifests/node-agent/static-pod.yaml'));
  assert.doesNotThrow(() => new Pod(pod).validate());
  const [agent, csi, ...more] = pod.spec.containers;
  assert.equal(more.length, 0);
  assert.equal(csi.name, 'csi');
  assert.equal(csi.image, agent.image, 'the same image');
  assert.equal(csi.args[0], 'csi');
  const args = parseCsiArgs(csi.args.slice(1), { NODE_NAME: 'n' });
  assert.ok(args !== 'help');
  assert.equal(args.driverName, CSI_DRIVER);
  assert.deepEqual(csi.env.find((e: Any) => e.name === 'NODE_NAME').valueFrom, {
    fieldRef: { fieldPath: 'spec.nodeName' },
  });
  assert.equal(csi.securityContext.privileged, true);
  assert.equal(csi.securityContext.runAsUser, 0);

  const hostPathOf = Object.fromEntries(pod.spec.volumes.map((v: Any) => [v.name, v.hostPath?.path]));
  const mounts = Object.fromEntries(
    csi.volumeMounts.map((m: Any) => [
      m.mountPath,
      { host: hostPathOf[m.name], ro: m.readOnly === true, propagation: m.mountPropagation },
    ]),
  );
  assert.deepEqual(mounts, {
    [args.configDir]: { host: args.configDir, ro: true, propagation: undefined },
    // Read-write: the plugin records each published volume there for the agent (node-contract/volumes.ts).
    [args.socketDir]: { host: args.socketDir, ro: false, propagation: undefined },
    [args.kubeletDir]: { host: args.kubeletDir, ro: false, propagation: 'Bidirectional' },
  });
  // The supervisor does not gain anything from its neighbour.
  assert.equal(agent.securityContext.privileged, undefined);
  assert.deepEqual(agent.securityContext.capabilities, { drop: ['ALL'], add: ['CHOWN'] });
  assert.ok(agent.volumeMounts.every((m: Any) => m.mountPropagation === undefined));
});
