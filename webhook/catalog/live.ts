// One Relay read straight from the API server (for admission's lookup of a relay the informer has not
// delivered yet, webhook/server/catalog-miss.ts): undefined when it does not exist, any other error thrown.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { unlessNotFound } from '../../lib/api-error.js';
import { GROUP, PLURAL, VERSION, type Relay } from '../../relay/index.js';

export function liveRelayGetter(kc: KubeConfig): (name: string) => Promise<Relay | undefined> {
  const api = kc.makeApiClient(CustomObjectsApi);
  return async (name) =>
    (await unlessNotFound(api.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name }))) as
      Relay | undefined;
}
