/**
 * Engine benchmark: npm run bench -w @vigil/engine -- --dataset <dir> [--json <file>] [config flags]
 * Config flags (optional, otherwise defaults): --input-size N --backbones a,b --layers mid,deep
 * --aggregation N --topk N --reweight --coreset R --sigma S --precision int8|fp32 --shrink-on-load. Without config
 * flags the engine's default runs:
 * the automatic configuration (trainModel's autoConfig); config flags or --fixed measure the fixed settings
 * (defaults + flags, no automatic choice); --auto with config flags chooses the settings the flags leave free.
 * --quick prints accuracy only (no speed runs); --normals-only trains without the labelled anomalies;
 * --sharpen-weight W pins the sharpening with labelled anomalies (0 = off; default: cross-validated).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import sharp from 'sharp';
import {
  loadModel,
  loadModelPool,
  POOL_INFLIGHT_PER_WORKER,
  trainModel,
  type AnomalyModel,
  type EngineConfig,
  type TrainingImage,
} from '../src/index';
import { auroc, aupro, bestF1, confusion, precisionRecallF1 } from '../src/metrics';
import { loadDataset, type BenchImage } from './datasets';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function configFromArgs(): Partial<EngineConfig> {
  const c: Record<string, unknown> = {};
  const num = (k: string, key: keyof EngineConfig): void => {
    const v = arg(k);
    if (v !== undefined) c[key] = Number(v);
  };
  num('input-size', 'inputSize');
  num('aggregation', 'aggregation');
  num('topk', 'topK');
  num('coreset', 'coresetRatio');
  num('sigma', 'sigma');
  num('max-bank', 'maxBankSize');
  num('max-candidates', 'maxCandidates');
  num('projection', 'projectionDim');
  const b = arg('backbones');
  if (b) c.backbones = b.split(',');
  const l = arg('layers');
  if (l) c.layers = l.split(',');
  if (process.argv.includes('--reweight')) c.reweight = true;
  const precision = arg('precision');
  if (precision) c.precision = precision;
  if (process.argv.includes('--shrink-on-load')) c.shrinkOnLoad = true;
  return c as Partial<EngineConfig>;
}

async function maskRaster(path: string | undefined, w: number, h: number): Promise<Uint8Array> {
  const out = new Uint8Array(w * h);
  if (!path) return out;
  const raw = await sharp(path)
    .resize(w, h, { fit: 'fill', kernel: 'nearest' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer();
  const ch = raw.length / (w * h);
  for (let i = 0; i < w * h; i++) {
    let s = 0;
    for (let c = 0; c < Math.min(3, ch); c++) s += raw[i * ch + c] ?? 0;
    out[i] = s > 60 ? 1 : 0;
  }
  return out;
}

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] ?? NaN;
};

async function latency(model: AnomalyModel, bufs: Buffer[], rounds: number): Promise<number[]> {
  const times: number[] = [];
  await model.detect(bufs[0] as Buffer);
  for (let r = 0; r < rounds; r++)
    for (const b of bufs) {
      const t = performance.now();
      await model.detect(b);
      times.push(performance.now() - t);
    }
  return times;
}

async function main(): Promise<void> {
  const dir = arg('dataset');
  if (!dir) {
    console.error('usage: bench --dataset <dir> [--json <file>]');
    process.exit(2);
  }
  const loadStart = loadavg()[0] ?? 0;
  const ds = loadDataset(dir);
  const read = (i: BenchImage): Buffer => readFileSync(i.path);
  // --normals-only: train without the labelled anomalies (as most MVTec-style projects start).
  const normalsOnly = process.argv.includes('--normals-only');
  const trainImages: TrainingImage[] = ds.train
    .filter((i) => !normalsOnly || i.label === 'normal')
    .map((i) => ({
      bytes: read(i),
      label: i.label,
      ...(i.maskPath ? { mask: readFileSync(i.maskPath) } : {}),
    }));
  const pinned = configFromArgs();
  const t0 = performance.now();
  const trained = await trainModel(trainImages, {
    config: pinned,
    autoConfig: process.argv.includes('--auto') || (!process.argv.includes('--fixed') && !Object.keys(pinned).length),
    ...(arg('sharpen-weight') !== undefined ? { sharpenWeight: Number(arg('sharpen-weight')) } : {}),
    ...(ds.classes.length ? { classes: ds.classes } : {}),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  // Peak RSS (high-water mark) of training alone; the final figure adds the speed runs' models and workers.
  const peakRssTrainingMb = process.resourceUsage().maxRSS / 1024;

  const tl = performance.now();
  const model = await loadModel(trained.artifact, { threads: 2 });
  const loadMs = performance.now() - tl;

  const testBufs = ds.test.map(read);
  const scores: number[] = [];
  const verdicts: number[] = [];
  const labels: number[] = [];
  // Every other map pixel, in typed chunks (boxed number arrays of ~1 M pixels weighed on the peak RSS).
  const pixelParts: { s: Float32Array; l: Uint8Array }[] = [];
  const proSamples: { map: Float32Array; mask: Uint8Array; width: number; height: number }[] = [];
  for (const [k, img] of ds.test.entries()) {
    const r = await model.detect(testBufs[k] as Buffer, { heatmap: false, segmentation: false, anomalyMap: true });
    scores.push(r.rawScore);
    verdicts.push(r.isAnomalous ? 1 : 0);
    labels.push(img.label === 'anomaly' ? 1 : 0);
    if (img.pixelTruth && r.anomalyMap) {
      const { data, width, height } = r.anomalyMap;
      const mask = await maskRaster(img.maskPath, width, height);
      const s = new Float32Array(Math.ceil(data.length / 2));
      const l = new Uint8Array(s.length);
      for (let i = 0, k = 0; i < data.length; i += 2, k++) {
        s[k] = data[i] as number;
        l[k] = mask[i] as number;
      }
      pixelParts.push({ s, l });
      proSamples.push({ map: data, mask, width, height });
    }
  }
  const imageAuroc = auroc(scores, labels);
  const best = bestF1(scores, labels);
  const atThr = precisionRecallF1(confusion(verdicts, labels, 0.5));
  const cm = confusion(verdicts, labels, 0.5);
  const hasMasks = ds.test.some((t) => t.maskPath);
  const pixelScores = new Float32Array(pixelParts.reduce((t, p) => t + p.s.length, 0));
  const pixelLabels = new Uint8Array(pixelScores.length);
  let offset = 0;
  for (const p of pixelParts) {
    pixelScores.set(p.s, offset);
    pixelLabels.set(p.l, offset);
    offset += p.s.length;
  }
  pixelParts.length = 0;
  const pixelAuroc = hasMasks ? auroc(pixelScores, pixelLabels) : null;
  const auproValue = hasMasks ? aupro(proSamples) : null;

  if (process.argv.includes('--quick')) {
    // Accuracy only (the speed measurements below take most of the bench's time).
    await model.release();
    const q = {
      dataset: ds.name,
      config: trained.summary.config,
      selection: trained.summary.selection ?? null,
      sharpening: trained.summary.sharpening ?? null,
      imageAuroc,
      pixelAuroc,
      aupro: auproValue,
      bestF1: best.f1,
      f1AtThreshold: atThr.f1,
      trainSeconds,
      loadAverage: [loadStart, loadavg()[0] ?? 0],
    };
    console.log(JSON.stringify({ ...q, selection: undefined, sharpening: q.sharpening?.weight ?? null }));
    const json = arg('json');
    if (json) writeFileSync(json, `${JSON.stringify(q, null, 2)}\n`);
    return;
  }
  const lat2 = await latency(model, testBufs, 2);
  const heatTimes: number[] = [];
  for (const b of testBufs) {
    const t = performance.now();
    await model.detect(b, { heatmap: false });
    heatTimes.push(performance.now() - t);
  }
  /** Images/s with `concurrency` detections (heat maps included) in flight against `detect`, over `passes`. */
  const throughput = async (
    detect: (b: Buffer) => Promise<unknown>,
    concurrency: number,
    passes = 4,
  ): Promise<number> => {
    const queue = Array.from({ length: passes }, () => testBufs).flat();
    const n = queue.length;
    const tt = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let b = queue.shift(); b; b = queue.shift()) await detect(b);
      }),
    );
    return n / ((performance.now() - tt) / 1000);
  };
  const serialPerSecond = await throughput((b) => model.detect(b), 1);
  const concurrentPerSecond = await throughput((b) => model.detect(b), 2);
  await model.release();
  const m1 = await loadModel(trained.artifact, { threads: 1 });
  const lat1 = await latency(m1, testBufs, 2);
  await m1.release();
  // Both cores: a pool of two worker threads, each with a single-threaded model and its default requests in
  // flight; measured in steady state (one warm-up pass: JIT, onnxruntime's arenas) over 8 passes.
  const pool = await loadModelPool(trained.artifact, { workers: 2 });
  const poolInflight = 2 * POOL_INFLIGHT_PER_WORKER;
  await throughput((b) => pool.detect(b), poolInflight, 1);
  const poolCpu = process.cpuUsage();
  const imagesPerSecond = await throughput((b) => pool.detect(b), poolInflight, 8);
  const poolCpuUsed = process.cpuUsage(poolCpu);
  const poolCpuMsPerImage = (poolCpuUsed.user + poolCpuUsed.system) / 1000 / (8 * testBufs.length);
  await pool.release();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;

  const result = {
    dataset: ds.name,
    layout: ds.layout,
    split: ds.split,
    trainImages: ds.train.length,
    testImages: ds.test.length,
    config: trained.summary.config,
    selection: trained.summary.selection ?? null,
    sharpening: trained.summary.sharpening ?? null,
    bankRows: trained.summary.bankRows,
    dims: trained.summary.dims,
    imageAuroc,
    pixelAuroc,
    aupro: auproValue,
    bestF1: best.f1,
    f1AtThreshold: atThr.f1,
    precisionAtThreshold: atThr.precision,
    recallAtThreshold: atThr.recall,
    confusion: cm,
    trainSeconds,
    modelLoadMs: loadMs,
    artifactBytes: trained.artifact.length,
    latencyP50Ms: pct(lat2, 0.5),
    latencyP95Ms: pct(lat2, 0.95),
    latency1ThreadP50Ms: pct(lat1, 0.5),
    latency1ThreadP95Ms: pct(lat1, 0.95),
    latencyNoHeatmapP50Ms: pct(heatTimes, 0.5),
    imagesPerSecond,
    /** CPU time per image in the pool (all threads of the process), the cost that bounds throughput. */
    poolCpuMsPerImage,
    imagesPerSecondOneModelSerial: serialPerSecond,
    imagesPerSecondOneModelTwoConcurrent: concurrentPerSecond,
    peakRssMb,
    peakRssTrainingMb,
    /** 1-minute load average before and after (this machine is shared; other work skews timings). */
    loadAverage: [loadStart, loadavg()[0] ?? 0],
  };
  const f = (v: number | null, d = 3): string => (v === null || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
  const rows: [string, string][] = [
    ['dataset', `${ds.name} (${ds.layout}; ${ds.train.length} train / ${ds.test.length} test)`],
    ['image AUROC', f(imageAuroc)],
    ['pixel AUROC', f(pixelAuroc)],
    ['AUPRO@0.3', f(auproValue)],
    ['best F1', f(best.f1)],
    ['F1 at threshold', `${f(atThr.f1)} (tp ${cm.tp} fp ${cm.fp} tn ${cm.tn} fn ${cm.fn})`],
    ['training s', f(trainSeconds, 2)],
    [
      'sharpening (labelled anomalies)',
      trained.summary.sharpening
        ? `weight ${trained.summary.sharpening.weight} (${trained.summary.sharpening.rows} defect patches, ${trained.summary.sharpening.source})`
        : 'not fitted',
    ],
    ['latency p50/p95 ms, 2 threads', `${f(result.latencyP50Ms, 1)} / ${f(result.latencyP95Ms, 1)}`],
    ['latency p50/p95 ms, 1 thread', `${f(result.latency1ThreadP50Ms, 1)} / ${f(result.latency1ThreadP95Ms, 1)}`],
    ['latency p50 ms, no heat map', f(result.latencyNoHeatmapP50Ms, 1)],
    [
      'images/s, with heat maps',
      `${f(imagesPerSecond, 1)} (2-worker pool, ${poolInflight} in flight, ${f(poolCpuMsPerImage, 1)} ms CPU per image); one 2-thread model: ${f(serialPerSecond, 1)} serial, ${f(concurrentPerSecond, 1)} with 2 in flight`,
    ],
    ['peak RSS MB', `${f(peakRssMb, 0)} (training alone: ${f(peakRssTrainingMb, 0)})`],
    ['load average (1 min) start/end', `${f(loadStart, 2)} / ${f(loadavg()[0] ?? 0, 2)}`],
    [
      'model',
      `${trained.summary.bankRows} x ${trained.summary.dims} fp16, ${(trained.artifact.length / 1e6).toFixed(2)} MB, load ${f(loadMs, 0)} ms`,
    ],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
  const json = arg('json');
  if (json) writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
