// Real AdmissionReview bodies, as the API server sends them: a labeled pod to inject (CREATE in
// namespace monitoring, consuming two relays) and a Relay to validate (CREATE).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'webhook');

function review(
  uid: string,
  kind: { group: string; version: string; kind: string },
  resource: string,
  namespace: string | undefined,
  name: string,
  object: unknown,
): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind,
      resource: { group: kind.group, version: kind.version, resource },
      requestKind: kind,
      requestResource: { group: kind.group, version: kind.version, resource },
      name,
      ...(namespace ? { namespace } : {}),
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: 'a4b1c2d3-0000-4000-8000-000000000001',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}

export interface Bodies {
  pod: string;
  relay: string;
}

export async function admissionBodies(): Promise<Bodies> {
  const pod = JSON.parse(await readFile(path.join(FIXTURES, 'pod.json'), 'utf8')) as unknown;
  const relay = {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'etcd-metrics' },
    spec: {
      protocol: 'TCP',
      target: { host: '127.0.0.1', port: 2381 },
      nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
      consumers: { namespaces: ['monitoring'] },
    },
  };
  return {
    pod: review(
      '0f5e4d3c-2b1a-4098-8765-43210fedcba9',
      { group: '', version: 'v1', kind: 'Pod' },
      'pods',
      'monitoring',
      '',
      pod,
    ),
    relay: review(
      '1a2b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d',
      { group: 'socat.io', version: 'v1alpha1', kind: 'Relay' },
      'relays',
      undefined,
      'etcd-metrics',
      relay,
    ),
  };
}
