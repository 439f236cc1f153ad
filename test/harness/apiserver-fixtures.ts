// Fixtures of the API-server suite, read once and deep-cloned per use.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocuments } from '../../relay/index.js';
import { REPO_ROOT, type KubeObject } from './index.js';

const DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'apiserver');
const cache = new Map<string, KubeObject>();

function fixture<T = KubeObject & Record<string, any>>(file: string): T {
  let obj = cache.get(file);
  if (!obj) {
    const docs = parseDocuments(readFileSync(path.join(DIR, file), 'utf8'), file);
    obj = docs[0] as KubeObject;
    cache.set(file, obj);
  }
  return structuredClone(obj) as T;
}

export type AnyObject = KubeObject & Record<string, any>;

/** The relay fixture with a name and target port of the test's choosing. */
export function relay(name: string, edit: (r: AnyObject) => void = () => {}): AnyObject {
  const r = fixture<AnyObject>('relay-http.yaml');
  r.metadata.name = name;
  edit(r);
  return r;
}

/** The consumer pod fixture, labeled for `relayName`, in `namespace`. */
export function consumerPod(
  name: string,
  namespace: string,
  relayName: string | undefined,
  edit: (p: AnyObject) => void = () => {},
): AnyObject {
  const p = fixture<AnyObject>('pod-consumer.yaml');
  p.metadata.name = name;
  p.metadata.namespace = namespace;
  if (relayName === undefined) delete p.metadata.labels!['socat.io/consume'];
  else p.metadata.labels!['socat.io/consume'] = relayName;
  edit(p);
  return p;
}

/**
 * A Relay edit the CRD lets through but relay/validate.ts refuses: a nodeSelector key whose prefix is
 * longer than 253 characters (the CRD's rule only caps the whole key). Host spellings cannot serve:
 * the CRD and the webhook accept exactly the same ones (test/apiserver/spellings.test.ts).
 */
const WEBHOOK_ONLY_BAD_KEY = `${'a'.repeat(254)}/x`;
export const webhookOnlyBad = (r: AnyObject): void => {
  r.spec.nodeSelector = { [WEBHOOK_ONLY_BAD_KEY]: 'y' };
};
