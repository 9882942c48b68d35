/**
 * Synthetic texture-with-defect benchmark sets in the MVTec AD layout, deterministic from a seed:
 *   <out>/<family>/train/good/000.png, test/good, test/<defect>/, ground_truth/<defect>/<stem>_mask.png
 * Families stand in for the kinds of products the engine must handle:
 *   tiles   fine stochastic texture (terrazzo-like chips on mottled ground), a new random instance per image
 *   grid    periodic wire mesh, random phase and a slight rotation per image
 *   tread   directional chevron grooves (tyre tread), random phase
 *   cast    a smooth shaded cast part (ring with bolt holes) on a dark background, slightly displaced
 * Defects are small and of realistic contrast (on `cast`, smaller still and blended at 40% strength): thin scratches, small spots / pits, missing pieces (a broken
 * wire, a chipped rim, a smoothed-out tread block, a hole in the tile's pattern) and contamination (a foreign
 * blob with its own texture).
 *
 *   npm run synth -w @vigil/engine -- --out /tmp/vigil-synth [--seed 7] [--size 512] [--train 40]
 *     [--test-good 16] [--per-defect 8] [--families tiles,grid]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { rng } from '../src/random';

type Rand = () => number;

/** A grey-level RGB float image, 0..1, interleaved. */
interface Img {
  readonly w: number;
  readonly h: number;
  readonly px: Float32Array;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const smooth = (t: number): number => t * t * (3 - 2 * t);

/** Smooth value noise with `cells` cells across the image, 0..1. */
function valueNoise(w: number, h: number, cells: number, r: Rand): Float32Array {
  const gw = cells + 2;
  const gh = Math.ceil((cells * h) / w) + 2;
  const g = Float32Array.from({ length: gw * gh }, () => r());
  const out = new Float32Array(w * h);
  const s = cells / w;
  for (let y = 0; y < h; y++) {
    const fy = y * s;
    const iy = Math.floor(fy);
    const ty = smooth(fy - iy);
    for (let x = 0; x < w; x++) {
      const fx = x * s;
      const ix = Math.floor(fx);
      const tx = smooth(fx - ix);
      const a = g[iy * gw + ix] as number;
      const b = g[iy * gw + ix + 1] as number;
      const c = g[(iy + 1) * gw + ix] as number;
      const d = g[(iy + 1) * gw + ix + 1] as number;
      out[y * w + x] = a + (b - a) * tx + (c - a + (d - c - b + a) * tx) * ty;
    }
  }
  return out;
}

function fbm(w: number, h: number, base: number, octaves: number, r: Rand): Float32Array {
  const out = new Float32Array(w * h);
  let amp = 1;
  let total = 0;
  for (let o = 0; o < octaves; o++) {
    const n = valueNoise(w, h, base * 2 ** o, r);
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + amp * (n[i] as number);
    total += amp;
    amp *= 0.5;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / total;
  return out;
}

const gauss = (r: Rand): number => {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
};

function newImg(w: number, h: number): Img {
  return { w, h, px: new Float32Array(w * h * 3) };
}

function setGrey(img: Img, i: number, v: number, tint: readonly [number, number, number] = [1, 1, 1]): void {
  img.px[i * 3] = clamp01(v * tint[0]);
  img.px[i * 3 + 1] = clamp01(v * tint[1]);
  img.px[i * 3 + 2] = clamp01(v * tint[2]);
}

/** Everything a family needs to draw a normal image and to repaint a region "as it should not be". */
interface Family {
  readonly name: string;
  readonly colour: boolean;
  normal(w: number, h: number, r: Rand): { img: Img; inside: (x: number, y: number) => boolean };
}

const tiles: Family = {
  name: 'tiles',
  colour: true,
  normal(w, h, r) {
    const img = newImg(w, h);
    const ground = fbm(w, h, 6, 4, r);
    const tint: [number, number, number] = [1, 0.97 + 0.02 * r(), 0.92 + 0.03 * r()];
    for (let i = 0; i < w * h; i++)
      setGrey(img, i, 0.62 + 0.16 * ((ground[i] as number) - 0.5) + 0.02 * gauss(r), tint);
    // Terrazzo chips: small irregular dark / light blobs, a few hundred per image.
    const chips = Math.round((w * h) / 900);
    for (let c = 0; c < chips; c++) {
      const cx = r() * w;
      const cy = r() * h;
      const rad = (1.5 + 4 * r() ** 2) * (w / 512);
      const tone = r() < 0.6 ? 0.3 + 0.15 * r() : 0.85 + 0.1 * r();
      const ecc = 0.6 + 0.8 * r();
      const ang = r() * Math.PI;
      const ca = Math.cos(ang);
      const sa = Math.sin(ang);
      for (let y = Math.max(0, Math.floor(cy - rad * 2)); y < Math.min(h, cy + rad * 2); y++)
        for (let x = Math.max(0, Math.floor(cx - rad * 2)); x < Math.min(w, cx + rad * 2); x++) {
          const u = ((x - cx) * ca + (y - cy) * sa) / (rad * ecc);
          const v = (-(x - cx) * sa + (y - cy) * ca) / rad;
          const d = Math.hypot(u, v);
          if (d < 1) setGrey(img, y * w + x, tone + 0.03 * gauss(r), tint);
        }
    }
    return { img, inside: () => true };
  },
};

const grid: Family = {
  name: 'grid',
  colour: false,
  normal(w, h, r) {
    const img = newImg(w, h);
    const period = (w / 512) * (22 + 2 * r());
    const wire = period * 0.18;
    const ang = (r() - 0.5) * 0.06;
    const ca = Math.cos(ang);
    const sa = Math.sin(ang);
    const px = r() * period;
    const py = r() * period;
    const light = fbm(w, h, 2, 2, r);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const u = x * ca + y * sa + px;
        const v = -x * sa + y * ca + py;
        const du = Math.abs((((u % period) + period) % period) - period / 2) - (period / 2 - wire);
        const dv = Math.abs((((v % period) + period) % period) - period / 2) - (period / 2 - wire);
        // Wires are dark with a highlight; where they cross, the upper wire alternates (weave).
        const onU = clamp01(du + 0.5);
        const onV = clamp01(dv + 0.5);
        const cellU = Math.floor(u / period);
        const cellV = Math.floor(v / period);
        const over = (cellU + cellV) % 2 === 0;
        let val = 0.82 + 0.08 * ((light[y * w + x] as number) - 0.5);
        const shadeU = 0.28 + 0.12 * Math.cos(((du + wire) / wire) * Math.PI * 0.5);
        const shadeV = 0.28 + 0.12 * Math.cos(((dv + wire) / wire) * Math.PI * 0.5);
        if (onU > 0 && onV > 0) val = over ? shadeU : shadeV;
        else if (onU > 0) val = val + (shadeU - val) * onU;
        else if (onV > 0) val = val + (shadeV - val) * onV;
        setGrey(img, y * w + x, val + 0.015 * gauss(r));
      }
    return { img, inside: () => true };
  },
};

const tread: Family = {
  name: 'tread',
  colour: false,
  normal(w, h, r) {
    const img = newImg(w, h);
    const period = (w / 512) * (40 + 4 * r());
    const phase = r() * period;
    const rough = fbm(w, h, 24, 3, r);
    const wear = fbm(w, h, 3, 2, r);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        // Chevron: grooves run diagonally, mirrored about the centre line, plus a straight circumferential groove.
        const cx = Math.abs(x - w / 2);
        const s = y + cx * 0.7 + phase;
        const t = (((s % period) + period) % period) / period;
        const groove = t < 0.28 ? Math.sin((t / 0.28) * Math.PI) : 0;
        const centre = Math.max(0, 1 - Math.abs(cx - w * 0.05) / (w * 0.012));
        const g = Math.max(groove, centre);
        const base = 0.3 + 0.06 * ((wear[y * w + x] as number) - 0.5) + 0.05 * ((rough[y * w + x] as number) - 0.5);
        setGrey(img, y * w + x, base - 0.2 * g + 0.012 * gauss(r));
      }
    return { img, inside: () => true };
  },
};

const cast: Family = {
  name: 'cast',
  colour: false,
  normal(w, h, r) {
    const img = newImg(w, h);
    const cx = w / 2 + (r() - 0.5) * w * 0.03;
    const cy = h / 2 + (r() - 0.5) * h * 0.03;
    const rot = (r() - 0.5) * 0.1;
    const R = w * 0.4;
    const hole = w * 0.12;
    const grain = fbm(w, h, 40, 2, r);
    const bgn = fbm(w, h, 3, 2, r);
    const lx = -0.5 + 0.05 * (r() - 0.5);
    const ly = -0.6;
    const inside = (x: number, y: number): boolean => {
      const d = Math.hypot(x - cx, y - cy);
      if (d > R - 2 || d < hole + 2) return false;
      for (let k = 0; k < 6; k++) {
        const a = rot + (k * Math.PI) / 3;
        if (Math.hypot(x - cx - Math.cos(a) * R * 0.68, y - cy - Math.sin(a) * R * 0.68) < w * 0.045 + 2) return false;
      }
      return true;
    };
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const d = Math.hypot(x - cx, y - cy);
        let cover = clamp01(R - d + 0.5) * clamp01(d - hole + 0.5);
        for (let k = 0; k < 6; k++) {
          const a = rot + (k * Math.PI) / 3;
          const dh = Math.hypot(x - cx - Math.cos(a) * R * 0.68, y - cy - Math.sin(a) * R * 0.68);
          cover *= clamp01(dh - w * 0.045 + 0.5);
        }
        const bg = 0.1 + 0.04 * (bgn[y * w + x] as number);
        // A domed surface lit from the top left: normal from the radial profile.
        const rr = (d - hole) / (R - hole);
        const slope = Math.cos(rr * Math.PI) * 0.6;
        const nx = ((x - cx) / (d || 1)) * slope;
        const ny = ((y - cy) / (d || 1)) * slope;
        const lit = 0.55 + 0.35 * (nx * lx + ny * ly) + 0.05 * ((grain[y * w + x] as number) - 0.5);
        setGrey(img, y * w + x, bg + (lit - bg) * cover + 0.01 * gauss(r));
      }
    return { img, inside };
  },
};

const FAMILIES: readonly Family[] = [tiles, grid, tread, cast];
const DEFECTS = ['scratch', 'spot', 'missing', 'contamination'] as const;
type DefectKind = (typeof DEFECTS)[number];

/** Paints one defect of `kind` into `img` (in place) and returns its mask. */
function paintDefect(
  family: Family,
  img: Img,
  kind: DefectKind,
  r: Rand,
  inside: (x: number, y: number) => boolean,
): Uint8Array {
  const { w, h, px } = img;
  const mask = new Uint8Array(w * h);
  // Cast parts: subtler defects (smaller, and blended at under half strength) so the set discriminates between
  // settings; the texture families keep full-strength defects.
  const subtle = family.name === 'cast';
  const k = (w / 512) * (subtle ? 0.7 : 1);
  const strength = subtle ? 0.4 : 1;
  let cx = 0;
  let cy = 0;
  for (let tries = 0; tries < 200; tries++) {
    cx = w * (0.12 + 0.76 * r());
    cy = h * (0.12 + 0.76 * r());
    if (inside(cx, cy)) break;
  }
  const lum = (i: number): number =>
    ((px[i * 3] as number) + (px[i * 3 + 1] as number) + (px[i * 3 + 2] as number)) / 3;
  const blendTo = (i: number, coverage: number, v: (c: number) => number): void => {
    if (coverage <= 0) return;
    const a = coverage * strength;
    for (let c = 0; c < 3; c++) px[i * 3 + c] = clamp01((px[i * 3 + c] as number) * (1 - a) + v(c) * a);
    if (coverage > 0.3) mask[i] = 255;
  };
  // Local mean (for realistic, not saturated, contrast).
  let mean = 0;
  let cnt = 0;
  for (let y = Math.max(0, Math.floor(cy - 20 * k)); y < Math.min(h, cy + 20 * k); y++)
    for (let x = Math.max(0, Math.floor(cx - 20 * k)); x < Math.min(w, cx + 20 * k); x++) {
      mean += lum(y * w + x);
      cnt++;
    }
  mean /= Math.max(1, cnt);
  switch (kind) {
    case 'scratch': {
      // A thin, slightly curved line, 1-2.5 px wide at 512, 25-70 px long; brighter or darker than the surface.
      const len = (25 + 45 * r()) * k;
      const a = r() * Math.PI;
      const bend = (r() - 0.5) * 0.6;
      const half = (0.5 + 0.75 * r()) * k;
      const tone = mean < 0.5 ? mean + 0.22 + 0.15 * r() : mean - 0.25 - 0.15 * r();
      const steps = Math.ceil(len * 2);
      const pts: [number, number][] = [];
      for (let s = 0; s <= steps; s++) {
        const t = s / steps - 0.5;
        const aa = a + bend * t;
        pts.push([cx + Math.cos(aa) * t * len, cy + Math.sin(aa) * t * len]);
      }
      const x0 = Math.max(0, Math.floor(Math.min(...pts.map((p) => p[0])) - 3));
      const x1 = Math.min(w - 1, Math.ceil(Math.max(...pts.map((p) => p[0])) + 3));
      const y0 = Math.max(0, Math.floor(Math.min(...pts.map((p) => p[1])) - 3));
      const y1 = Math.min(h - 1, Math.ceil(Math.max(...pts.map((p) => p[1])) + 3));
      for (let y = y0; y <= y1; y++)
        for (let x = x0; x <= x1; x++) {
          let d = Infinity;
          for (const p of pts) d = Math.min(d, Math.hypot(x + 0.5 - p[0], y + 0.5 - p[1]));
          blendTo(y * w + x, clamp01(half + 0.5 - d) * 0.9, () => tone);
        }
      break;
    }
    case 'spot': {
      // A small pit or stain, radius 3-8 px at 512, soft edged, darker (or, on dark surfaces, lighter).
      const rad = (3 + 5 * r()) * k;
      const tone = mean < 0.35 ? mean + 0.2 + 0.1 * r() : mean * (0.45 + 0.2 * r());
      for (let y = Math.max(0, Math.floor(cy - rad - 2)); y < Math.min(h, cy + rad + 2); y++)
        for (let x = Math.max(0, Math.floor(cx - rad - 2)); x < Math.min(w, cx + rad + 2); x++) {
          const d = Math.hypot(x - cx, (y - cy) * 1.2);
          blendTo(y * w + x, clamp01(rad - d + 0.5) * 0.9, () => tone);
        }
      break;
    }
    case 'missing': {
      // The structure is absent in a small region: family-specific fill.
      const rad = (8 + 10 * r()) * k;
      const ry = rad * (0.5 + 0.5 * r());
      const a = r() * Math.PI;
      const ca = Math.cos(a);
      const sa = Math.sin(a);
      const fill =
        family.name === 'cast'
          ? () => 0.1 // a chip shows the background
          : family.name === 'grid'
            ? () => 0.82 // a broken wire shows the backing
            : family.name === 'tread'
              ? () => 0.3 // a worn-off block: flat rubber without grooves
              : () => mean; // tiles: chips missing, plain ground
      const jag = valueNoise(64, 64, 6, r);
      for (let y = Math.max(0, Math.floor(cy - rad - 2)); y < Math.min(h, cy + rad + 2); y++)
        for (let x = Math.max(0, Math.floor(cx - rad - 2)); x < Math.min(w, cx + rad + 2); x++) {
          const u = ((x - cx) * ca + (y - cy) * sa) / rad;
          const v = (-(x - cx) * sa + (y - cy) * ca) / ry;
          const j = jag[
            Math.min(63, Math.max(0, Math.floor((u + 1) * 31))) * 64 +
              Math.min(63, Math.max(0, Math.floor((v + 1) * 31)))
          ] as number;
          const d = Math.hypot(u, v) - 0.25 * (j - 0.5);
          if (family.name === 'cast' && !inside(x, y) && d < 1) continue;
          blendTo(y * w + x, clamp01((1 - d) * rad * 0.5 + 0.5), () => fill() + 0.01 * gauss(r));
        }
      break;
    }
    case 'contamination': {
      // A foreign particle / smear with its own colour and texture, radius 5-12 px at 512.
      const rad = (5 + 7 * r()) * k;
      const colour: [number, number, number] = family.colour
        ? [0.45 + 0.2 * r(), 0.35 + 0.1 * r(), 0.2 + 0.1 * r()]
        : ([0, 0, 0].map(() => (mean < 0.5 ? mean + 0.25 : mean - 0.3)) as [number, number, number]);
      const tex = valueNoise(48, 48, 8, r);
      for (let y = Math.max(0, Math.floor(cy - rad * 1.5)); y < Math.min(h, cy + rad * 1.5); y++)
        for (let x = Math.max(0, Math.floor(cx - rad * 1.5)); x < Math.min(w, cx + rad * 1.5); x++) {
          const tx = Math.min(47, Math.max(0, Math.floor(((x - cx) / (rad * 1.5) + 1) * 23.5)));
          const ty = Math.min(47, Math.max(0, Math.floor(((y - cy) / (rad * 1.5) + 1) * 23.5)));
          const t = tex[ty * 48 + tx] as number;
          const d = Math.hypot(x - cx, y - cy) / rad - 0.35 * (t - 0.5);
          blendTo(y * w + x, clamp01((1 - d) * rad * 0.4) * 0.85, (c) => (colour[c] as number) * (0.8 + 0.4 * t));
        }
      break;
    }
  }
  return mask;
}

async function writePng(path: string, img: Img, colour: boolean): Promise<void> {
  const n = img.w * img.h;
  const ch = colour ? 3 : 1;
  const buf = Buffer.alloc(n * ch);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < ch; c++) buf[i * ch + c] = Math.round(clamp01(img.px[i * 3 + c] as number) * 255);
  await sharp(buf, { raw: { width: img.w, height: img.h, channels: ch } })
    .png({ compressionLevel: 6 })
    .toFile(path);
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

export async function generate(opts: {
  out: string;
  seed: number;
  size: number;
  train: number;
  testGood: number;
  perDefect: number;
  families: readonly string[];
}): Promise<void> {
  for (const family of FAMILIES.filter((f) => opts.families.includes(f.name))) {
    const root = join(opts.out, family.name);
    const fseed = opts.seed * 1000 + FAMILIES.indexOf(family) * 100;
    let k = 0;
    const make = (): ReturnType<Family['normal']> & { r: Rand } => {
      const r = rng(fseed * 7919 + k++);
      return { ...family.normal(opts.size, opts.size, r), r };
    };
    const dir = (...p: string[]): string => {
      const d = join(root, ...p);
      mkdirSync(d, { recursive: true });
      return d;
    };
    const name = (i: number): string => `${String(i).padStart(3, '0')}.png`;
    for (let i = 0; i < opts.train; i++) await writePng(join(dir('train', 'good'), name(i)), make().img, family.colour);
    for (let i = 0; i < opts.testGood; i++)
      await writePng(join(dir('test', 'good'), name(i)), make().img, family.colour);
    for (const kind of DEFECTS)
      for (let i = 0; i < opts.perDefect; i++) {
        const n = make();
        const mask = paintDefect(family, n.img, kind, n.r, n.inside);
        await writePng(join(dir('test', kind), name(i)), n.img, family.colour);
        await sharp(Buffer.from(mask), { raw: { width: opts.size, height: opts.size, channels: 1 } })
          .png()
          .toFile(join(dir('ground_truth', kind), `${String(i).padStart(3, '0')}_mask.png`));
      }
    writeFileSync(
      join(root, 'README.txt'),
      `Synthetic ${family.name} set (Vigil engine bench/synthetic-sets.ts), seed ${opts.seed}, ${opts.size} px.\n`,
    );
    console.log(`${family.name}: ${root}`);
  }
}

if (require.main === module) {
  generate({
    out: arg('out', '/tmp/vigil-synth'),
    seed: Number(arg('seed', '7')),
    size: Number(arg('size', '512')),
    train: Number(arg('train', '40')),
    testGood: Number(arg('test-good', '16')),
    perDefect: Number(arg('per-defect', '8')),
    families: arg('families', FAMILIES.map((f) => f.name).join(',')).split(','),
  }).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
