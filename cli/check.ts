// socat-relay check: waits until the API server can call the webhook — the step between "the controllers
// are Ready" and "a Relay can be created" (docs/install.md, step 3). A Ready pod is not yet a reachable
// Service: its endpoint has to reach every API server's node (EndpointSlice, kube-proxy) and the
// configurations need their caBundle. Each try reads both webhook configurations and makes a server-side
// dry run of a Relay, which the Relay webhook (failurePolicy Fail) must answer for it to pass.
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../relay/index.js';
import { heldSchedule, sleep, type NowFn, type ScheduleFn } from '../lib/clock.js';
import { parseOrExit, UsageError, type CommandIO } from './io.js';
import { requestJson, type KubeResponse } from './kube-http.js';

const USAGE = `usage: socat-relay check [--kubeconfig FILE] [--timeout SECONDS] [--name NAME]
Waits until the API server calls socat-relay's webhook: both webhook configurations carry a caBundle,
and a server-side dry run of a Relay passes through the Relay webhook (nothing is created).
Exit 0 once it does; 1 with the last reason at the timeout, or at once when waiting cannot help.
  --kubeconfig FILE    kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --timeout SECONDS    how long to wait (default 120; 0: one try)
  --name NAME          the webhook configurations' name (default socat-relay)
`;

/** The Relay webhook's entry in the ValidatingWebhookConfiguration (manifests/webhook/). */
export const RELAY_WEBHOOK = 'relays.socat.io';
const ADMISSION = '/apis/admissionregistration.k8s.io/v1';

interface CheckArgs {
  kubeconfig?: string;
  timeoutSeconds: number;
  name: string;
}

export function parseCheckArgs(args: string[]): CheckArgs | 'help' {
  const v = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      timeout: { type: 'string', default: '120' },
      name: { type: 'string', default: 'socat-relay' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
  if (v.help) return 'help';
  if (!/^\d+$/.test(v.timeout) || Number(v.timeout) > 3600)
    throw new UsageError(`--timeout: a whole number of seconds from 0 to 3600, got "${v.timeout}"`);
  return { kubeconfig: v.kubeconfig, timeoutSeconds: Number(v.timeout), name: v.name };
}

/** One try's verdict: the webhook answered; not yet (why); or a state that waiting will not change. */
export type Verdict = { ok: true } | { ok: false; retry: boolean; reason: string };

interface WebhookConfiguration {
  webhooks?: { name?: string; failurePolicy?: string; clientConfig?: { caBundle?: string } }[];
}

const messageOf = (body: unknown): string => {
  const m = (body as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : JSON.stringify(body).slice(0, 300);
};

/** What a webhook configuration's GET says about it (`kind` names it in the reason). */
export function configurationVerdict(kind: string, name: string, res: KubeResponse): Verdict {
  const what = `${kind} ${name}`;
  if (res.status === 404) return { ok: false, retry: true, reason: `${what} does not exist (yet)` };
  if (res.status !== 200)
    return { ok: false, retry: res.status >= 500, reason: `GET ${what}: HTTP ${res.status}: ${messageOf(res.body)}` };
  const hooks = (res.body as WebhookConfiguration).webhooks ?? [];
  if (hooks.length === 0) return { ok: false, retry: false, reason: `${what} holds no webhook` };
  const missing = hooks.filter((w) => !w.clientConfig?.caBundle).map((w) => w.name ?? '?');
  if (missing.length > 0)
    return {
      ok: false,
      retry: true,
      reason: `${what}: no caBundle yet in ${missing.join(', ')} (cert-manager's cainjector, the controllers or your patch fill it)`,
    };
  if (kind === 'validatingwebhookconfiguration') {
    const relays = hooks.find((w) => w.name === RELAY_WEBHOOK);
    if (!relays) return { ok: false, retry: false, reason: `${what} has no webhook ${RELAY_WEBHOOK}` };
    if (relays.failurePolicy !== 'Fail')
      return {
        ok: false,
        retry: false,
        reason: `${what}: ${RELAY_WEBHOOK} has failurePolicy ${relays.failurePolicy ?? '(unset)'}, not Fail: a dry run passes whether the webhook answers or not`,
      };
  }
  return { ok: true };
}

/** What the dry-run create of the probe Relay says. */
export function dryRunVerdict(res: KubeResponse): Verdict {
  const message = messageOf(res.body);
  // Created (dry run), or refused by our own webhook: either way it answered.
  if (res.status === 201 || res.status === 200) return { ok: true };
  if (message.includes(`admission webhook "${RELAY_WEBHOOK}" denied`)) return { ok: true };
  // The API server could not call it: no endpoint yet, a Service not yet programmed, TLS not yet right.
  if (message.includes('failed calling webhook') || res.status >= 500)
    return { ok: false, retry: true, reason: `the API server cannot call the webhook yet: ${message}` };
  return { ok: false, retry: false, reason: `a dry-run Relay was refused (HTTP ${res.status}): ${message}` };
}

/** A valid Relay no one would create: only ever sent with dryRun=All, under a generated name. */
export const probeRelay = () => ({
  apiVersion: API_VERSION,
  kind: KIND,
  metadata: { generateName: 'socat-relay-check-' },
  spec: {
    target: { host: '127.0.0.1', port: 1 },
    listen: { port: 8080 },
    consumers: { namespaces: ['socat-relay-check'] },
  },
});

/** One try: both configurations, then the dry run. A network error is a reason to wait. */
async function once(kc: KubeConfig, name: string): Promise<Verdict> {
  try {
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const res = await requestJson(kc, 'GET', `${ADMISSION}/${kind}s/${encodeURIComponent(name)}`);
      const v = configurationVerdict(kind, name, res);
      if (!v.ok) return v;
    }
    return dryRunVerdict(await requestJson(kc, 'POST', `/apis/${GROUP}/${VERSION}/${PLURAL}?dryRun=All`, probeRelay()));
  } catch (e) {
    return { ok: false, retry: true, reason: `the API server did not answer: ${(e as Error).message}` };
  }
}

export interface CheckTiming {
  now?: NowFn;
  schedule?: ScheduleFn;
  intervalMs?: number;
}

export async function run(args: string[], io: CommandIO, timing: CheckTiming = {}): Promise<number> {
  const a = parseOrExit('check', USAGE, io, () => parseCheckArgs(args));
  if (typeof a === 'number') return a;
  const now = timing.now ?? Date.now;
  const schedule = timing.schedule ?? heldSchedule;
  const kc = new KubeConfig();
  try {
    if (a.kubeconfig) kc.loadFromFile(a.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    io.stderr.write(`check: cannot load the kubeconfig: ${(e as Error).message}\n`);
    return 1;
  }
  const start = now();
  const end = start + a.timeoutSeconds * 1000;
  let last = '';
  for (;;) {
    const v = await once(kc, a.name);
    if (v.ok) {
      io.stdout.write(
        `the API server calls the webhook: a dry-run Relay passed ${RELAY_WEBHOOK} (after ${((now() - start) / 1000).toFixed(1)} s)\n`,
      );
      return 0;
    }
    if (!v.retry) {
      io.stderr.write(`check: ${v.reason}\n`);
      return 1;
    }
    if (now() >= end) {
      io.stderr.write(`check: gave up after ${a.timeoutSeconds} s: ${v.reason}\n`);
      return 1;
    }
    if (v.reason !== last) io.stderr.write(`check: waiting: ${v.reason}\n`);
    last = v.reason;
    await sleep(timing.intervalMs ?? 2000, schedule);
  }
}
