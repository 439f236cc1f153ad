// The footprint benchmark's pure parts: its parameters (unknown variants refused by name) and its
// figures (the first variant the baseline, the worker goals judged on controller + agent, the node
// binary's shared pages counted once in the "shared pages once" figures).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { footprintFigures, footprintParams, type Resident, type VariantResult } from '../../bench/footprint/run.js';
import { VARIANTS } from '../../bench/footprint/variants.js';

const MiB = 1024 * 1024;
const mem = (anon: number, file: number): Resident => ({
  rss: (anon + file) * MiB,
  anon: anon * MiB,
  file: file * MiB,
});

test('footprintParams: every variant by default, a chosen list in order, an unknown name refused with the variable named', () => {
  assert.deepEqual(
    footprintParams({}).variants.map((v) => v.name),
    VARIANTS.map((v) => v.name),
  );
  assert.equal(VARIANTS[0]!.name, 'files', 'the baseline: the per-file transpile bench:fleet ran before the bundle');
  assert.deepEqual(
    footprintParams({ BENCH_FOOTPRINT_VARIANTS: 'bundle, files' }).variants.map((v) => v.name),
    ['bundle', 'files'],
  );
  assert.throws(
    () => footprintParams({ BENCH_FOOTPRINT_VARIANTS: 'bundle,nope' }),
    /BENCH_FOOTPRINT_VARIANTS: unknown variant nope/,
  );
  assert.throws(() => footprintParams({ BENCH_FOOTPRINT_WINDOW_SECONDS: '-1' }), /BENCH_FOOTPRINT_WINDOW_SECONDS/);
});

test('footprintFigures: goals on controller + agent, the first variant as baseline, shared pages counted once', () => {
  const result = (name: string, c: Resident, a: Resident, mc: number): VariantResult => ({
    variant: VARIANTS.find((v) => v.name === name)!,
    controller: c,
    agent: a,
    csi: mem(30, 50),
    csiMc: 0.5,
    socatRss: 14 * MiB,
    controllerMc: mc,
    agentMc: 1,
  });
  const figs = footprintFigures([
    result('files', mem(85, 48), mem(34, 48), 3),
    result('bundle', mem(70, 50), mem(22, 48), 0.5),
  ]);
  const get = (n: string) => {
    const f = figs.find((x) => x.name === n);
    assert.ok(f, n);
    return f;
  };
  const files = get('files: worker RSS (controller + agent)');
  assert.equal(files.value, 215);
  assert.equal(files.baseline, null, 'the first variant has no baseline');
  assert.equal(files.met, false, '> 128 MiB');
  const bundle = get('bundle: worker RSS (controller + agent)');
  assert.equal(bundle.value, 190);
  assert.equal(bundle.baseline, 215);
  assert.equal(get('bundle: worker memory, shared pages once').value, 70 + 22 + 50);
  assert.equal(get('bundle: worker with the CSI plugin, shared pages once').value, 70 + 22 + 30 + 50);
  assert.equal(get('bundle: worker CPU (controller + agent)').value, 1.5);
  assert.equal(get('bundle: worker CPU (controller + agent)').met, true, '<= 2 millicores');
  assert.equal(get('files: worker CPU (controller + agent)').met, false);
  assert.match(get('bundle: controller RSS').note ?? '', /70\.0 MiB private \+ 50\.0 MiB file-backed/);
});
