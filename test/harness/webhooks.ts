// Registers the project's real webhook configurations (manifests/webhook/) against a webhook server on
// 127.0.0.1, and waits until the API server really calls it: a configuration is live only once the
// API server's informer has seen it, so a test that relied on it right away would be flaky.
import type { KubeClient, KubeObject } from './client.js';
import { applyAll, readManifests, webhooksForUrl } from './manifests.js';
import { waitFor } from './wait.js';

export async function registerWebhooks(
  client: KubeClient,
  opts: { baseUrl: string; caBundle: string },
): Promise<KubeObject[]> {
  const configs = webhooksForUrl(readManifests('webhook'), opts);
  if (configs.length === 0) throw new Error('manifests/webhook/ holds no webhook configuration');
  await applyAll(client, configs);
  return configs;
}

/** Polls `probe` (e.g. a dry-run create that only our webhook can change) until it says the webhook answered. */
export async function waitUntilWebhookCalled(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(`the API server to call ${what}`, probe, { timeoutMs, intervalMs: 250 });
}
