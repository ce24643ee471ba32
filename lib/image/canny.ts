// Canny edge detector on 8-bit luminance, for the canny control image (controlImage.ts):
// Gaussian blur (σ 1.4), Sobel gradients, non-maximum suppression, double threshold with
// hysteresis; white edges on black.
//
// Why a kernel of our own: sharp (libvips) exposes no Canny, and the npm packages that do are
// unmaintained and built on a whole image library (canny-edge-detector 1.0.0 of 2017 needs
// image-js, wraps the image around its borders and reads pixels through per-pixel getters).
// Every stage is a loop over typed arrays with nothing allocated per pixel; the blur runs in
// small integers (V8 keeps them unboxed) on 1- and 2-byte planes. bench/control-image.ts prints
// the time of each stage.
//
// Flat areas are skipped, exactly. A sketch is mostly page, and a decoded JPEG's page and fills
// are large areas of exactly one luminance. A pixel whose luminance is one value v over ±4 px (the
// blur's reach) has blurred value 256·v and a gradient too small to matter (CALM_MARGIN), so
// busyRegion (flatTiles.ts) finds the 4×4 tiles that are not so with their neighbours, and the
// blur, Sobel and suppression run on those alone (~12 % of bench/control-image.ts's sketch at
// 512², ~21 % of it JPEG-coded); the planes get the flat values only where those stages read
// them. The output is the same bit for bit as running every stage on every pixel
// (test/unit/control-image.test.ts checks it against a plain implementation). At 512²:
// bench/control-image.ts's sketch ~7.5 → ~1.55 ms, JPEG-coded ~7.7 → ~2.1 ms.
import { busyRegion, tilePlanes, wholeImage, type BusyPlanes, type Region } from './flatTiles';
import { assertRgb, type RgbImage } from './rgb';
import { LITTLE_ENDIAN } from './words';

export { busyRegion, wholeImage, type Region } from './flatTiles';

/** Gaussian σ of the pre-blur (the textbook 1.4), on a 9-tap kernel (radius 4 ≈ 2.9σ, the size
 * OpenCV picks for this σ on 8-bit images; the taps left out hold 0.4 % of the weight). */
export const CANNY_SIGMA = 1.4;
/** Hysteresis thresholds as fractions of the strongest gradient of the image. For a sketch with
 * black-on-white strokes they land on contrast steps of ~25 and ~50 levels, where the usual
 * annotator setting (OpenCV Canny 100/200) lands too, and they follow a faint pencil sketch down. */
export const CANNY_LOW = 0.1;
export const CANNY_HIGH = 0.2;
/** Floor of the high threshold, in levels per pixel of the blurred image: a step must be ~20
 * levels (of 255) to seed an edge (a blurred step of height C peaks at C/(σ√2π) ≈ 0.285·C), so a
 * blank or nearly flat frame gives no edges instead of its amplified noise. The low floor is half. */
export const CANNY_MIN_HIGH = 6;

/** Canny edge mask (0/255 per pixel) of the image's luminance; see the stages below. The
 * intermediate planes live in a workspace kept for the last image size (18 bytes a pixel:
 * 4.7 MB at 512²), so a stream of frames reuses them instead of faulting in fresh pages. Not
 * re-entrant, and needs none: every call runs to its end synchronously. */
export function cannyMask(rgb: RgbImage): Uint8Array {
  assertRgb(rgb);
  const { width, height } = rgb;
  const ws = kept?.width === width && kept.height === height ? kept : (kept = cannyWorkspace(width, height));
  luminance(rgb, ws.lum);
  const busy = busyRegion(ws.lum, width, height, CALM_MARGIN, ws);
  gaussianBlur(ws.lum, width, height, CANNY_SIGMA, ws.tmp, ws.blurred, busy);
  const max = gradientMagnitude(ws.blurred, width, height, ws.magnitude, busy);
  const high = Math.max(CANNY_HIGH * max, CANNY_MIN_HIGH);
  const low = Math.max(CANNY_LOW * max, CANNY_MIN_HIGH / 2);
  const ridges = nonMaxSuppress(ws.blurred, ws.magnitude, width, height, low, ws.ridges, ws.list, busy);
  return hysteresis(ws.ridges, ws.magnitude, width, high, ws.stack, ws.list, ridges);
}

export interface CannyWorkspace extends BusyPlanes {
  width: number;
  height: number;
  lum: Uint8Array;
  ridges: Uint8Array;
  stack: Int32Array;
  list: Int32Array;
}
let kept: CannyWorkspace | undefined;

export function cannyWorkspace(width: number, height: number): CannyWorkspace {
  const pixels = width * height;
  return {
    width,
    height,
    lum: new Uint8Array(pixels),
    tmp: new Uint16Array(pixels),
    blurred: new Uint16Array(pixels),
    magnitude: new Float32Array(pixels),
    ridges: new Uint8Array(pixels),
    stack: new Int32Array(pixels),
    list: new Int32Array(pixels),
    ...tilePlanes(width, height),
  };
}

const luma = (r: number, g: number, b: number) => (77 * r + 150 * g + 29 * b + 128) >> 8;

/** Rec. 601 luma in 8 bits, rounded, one byte per pixel (weights 77/150/29 of 256). Four pixels
 * are read as three 32-bit words and written as one; four pixels the same as the four before
 * (most of a page) are a copy of their luma word: ~0.3 ms at 512² instead of ~0.85. */
export function luminance(rgb: RgbImage, out: Uint8Array): void {
  const d = rgb.data;
  const n = out.length;
  let i = 0;
  if (LITTLE_ENDIAN && d.byteOffset % 4 === 0 && out.byteOffset % 4 === 0) {
    const words = new Int32Array(d.buffer, d.byteOffset, (3 * n) >> 2);
    const lum = new Int32Array(out.buffer, out.byteOffset, n >> 2);
    let [px, py, pz, pl] = [~words[0], 0, 0, 0]; // ~: never the first word
    for (let k = 0, j = 0; i + 4 <= n; i += 4, k++, j += 3) {
      const x = words[j];
      const y = words[j + 1];
      const z = words[j + 2];
      if (x !== px || y !== py || z !== pz) {
        px = x;
        py = y;
        pz = z;
        pl = luma(x & 255, (x >>> 8) & 255, (x >>> 16) & 255) | (luma(x >>> 24, y & 255, (y >>> 8) & 255) << 8) |
          (luma((y >>> 16) & 255, y >>> 24, z & 255) << 16) | (luma((z >>> 8) & 255, (z >>> 16) & 255, z >>> 24) << 24);
      }
      lum[k] = pl;
    }
  }
  for (let j = 3 * i; i < n; i++, j += 3) out[i] = luma(d[j], d[j + 1], d[j + 2]);
}

/** Integer taps k0…k4 (centre first; the kernel is symmetric) of a 9-tap Gaussian of σ, summing to
 * 256: the blur runs in integers (fast small-integer arithmetic in V8, 2-byte planes). */
export function gaussianTaps(sigma: number): [number, number, number, number, number] {
  const g = [0, 1, 2, 3, 4].map((i) => Math.exp(-(i * i) / (2 * sigma * sigma)));
  const total = g[0] + 2 * (g[1] + g[2] + g[3] + g[4]);
  const k = g.map((v) => Math.round((256 * v) / total) | 0); // | 0: small integers, not doubles, to V8
  k[0] = 256 - 2 * (k[1] + k[2] + k[3] + k[4]); // rounding error goes to the centre
  return k as [number, number, number, number, number];
}

/** Separable 9-tap Gaussian blur (radius 4, meant for σ up to ~1.5) of 8-bit `src` into `out` at
 * 256× scale (0..65280, so no precision is lost to rounding), border pixels repeated outwards so
 * the image's edges get no dark halo, over `region` (the row pass into `tmp` too: out of the
 * region, where the column pass reads them, `tmp` must already hold its values, as busyRegion
 * leaves them). */
export function gaussianBlur(src: Uint8Array, width: number, height: number, sigma: number, tmp: Uint16Array, out: Uint16Array, region: Region = wholeImage(width, height)): void {
  const taps = gaussianTaps(sigma);
  blurRows(src, width, region, taps, tmp);
  blurColumns(tmp, width, height, region, taps, out);
}

/** The row pass: the taps are unrolled, symmetric pairs share a multiply; the four pixels at each
 * end of the image's rows clamp their reads, the rest run unchecked. One call for all rectangles:
 * a sketch's region has hundreds of small ones, and a call per rectangle cost ~1 µs each. */
function blurRows(src: Uint8Array, width: number, region: Region, taps: readonly number[], tmp: Uint16Array): void {
  const [k0, k1, k2, k3, k4] = taps;
  const { rects, count } = region;
  for (let r = 0; r < 4 * count; r += 4) {
    const x0 = rects[r + 2];
    const x1 = rects[r + 3];
    const leftTo = Math.min(x1, 4);
    const midFrom = Math.max(x0, 4);
    const midTo = Math.min(x1, width - 4);
    const rightFrom = Math.max(x0, 4, width - 4);
    for (let y = rects[r]; y < rects[r + 1]; y++) {
      const row = y * width;
      for (let x = x0; x < leftTo; x++) tmp[row + x] = clampedRow(src, row, width, x, taps);
      for (let c = row + midFrom, end = row + midTo; c < end; c++) {
        tmp[c] = k0 * src[c] + k1 * (src[c - 1] + src[c + 1]) + k2 * (src[c - 2] + src[c + 2]) + k3 * (src[c - 3] + src[c + 3]) + k4 * (src[c - 4] + src[c + 4]);
      }
      for (let x = rightFrom; x < x1; x++) tmp[row + x] = clampedRow(src, row, width, x, taps);
    }
  }
}

/** The row pass at x of the row starting at `row`, its reads clamped to the row. */
function clampedRow(src: Uint8Array, row: number, width: number, x: number, taps: readonly number[]): number {
  let s = 0;
  for (let d = -4; d <= 4; d++) s += taps[Math.abs(d)] * src[row + Math.min(width - 1, Math.max(0, x + d))];
  return s;
}

/** The column pass: the nine source rows of output row y are found once per row, then read in
 * memory order. */
function blurColumns(tmp: Uint16Array, width: number, height: number, region: Region, taps: readonly number[], out: Uint16Array): void {
  const [k0, k1, k2, k3, k4] = taps;
  const { rects, count } = region;
  const last = (height - 1) * width;
  for (let r = 0; r < 4 * count; r += 4) {
    const x0 = rects[r + 2];
    const x1 = rects[r + 3];
    for (let y = rects[r]; y < rects[r + 1]; y++) {
      const row = y * width;
      const u1 = Math.max(0, row - width), u2 = Math.max(0, row - 2 * width), u3 = Math.max(0, row - 3 * width), u4 = Math.max(0, row - 4 * width);
      const d1 = Math.min(last, row + width), d2 = Math.min(last, row + 2 * width), d3 = Math.min(last, row + 3 * width), d4 = Math.min(last, row + 4 * width);
      for (let x = x0; x < x1; x++) {
        const s = k0 * tmp[row + x] + k1 * (tmp[u1 + x] + tmp[d1 + x]) + k2 * (tmp[u2 + x] + tmp[d2 + x]) + k3 * (tmp[u3 + x] + tmp[d3 + x]) + k4 * (tmp[u4 + x] + tmp[d4 + x]);
        out[row + x] = (s + 128) >> 8;
      }
    }
  }
}

/** Sobel of the blurred plane (256× scale) → 1/(8·256) of it, in levels per pixel. */
const SOBEL_SCALE = 1 / 2048;

/** How many tiles around a calm tile (busyRegion) share its luminance v: 1 when that is exact,
 * else 2. A pixel p with v over ±4 px has blurred value 256·v; a neighbour q's blur reaches one
 * column or row (or both, at a corner) further, holding tap weight W = 256·k4 (or 512·k4 − k4²)
 * of 65536, which moves q's blurred value by at most ⌈(255·W + 128) / 256⌉. Sobel sums those of
 * the four corners once and the two sides twice, in x and in y: with σ 1.4 (k4 = 1) |gx|, |gy| ≤
 * 3056, a magnitude ≤ 2.11 levels, below the low threshold's floor (3). So p is no edge, loses
 * every comparison with a neighbour above the low threshold as a 0 does, and leaving it out of
 * the largest magnitude moves no threshold (that matters only above 30 levels). With v over ±8 px
 * (two tiles) the gradient is 0 whatever the taps. */
export const CALM_MARGIN = (() => {
  const k4 = gaussianTaps(CANNY_SIGMA)[4];
  const moved = (w: number) => Math.ceil((255 * w + 128) / 256);
  const g = 4 * moved(512 * k4 - k4 * k4) + 4 * moved(256 * k4);
  return Math.SQRT2 * g * SOBEL_SCALE < CANNY_MIN_HIGH / 2 ? 1 : 2;
})();

/** Euclidean magnitude of the 3×3 Sobel gradient, in levels per pixel of the blurred luminance,
 * border pixels repeated, over `region` (outside it `out` is left as it is: busyRegion zeroes
 * it where suppression reads it); returns the largest. The direction is not kept: non-maximum
 * suppression recomputes it for the few pixels above the low threshold. */
export function gradientMagnitude(src: Uint16Array, width: number, height: number, out: Float32Array, region: Region = wholeImage(width, height)): number {
  let max = 0;
  const { rects, count } = region;
  for (let r = 0; r < 4 * count; r += 4) {
    const x0 = rects[r + 2];
    const x1 = rects[r + 3];
    for (let y = rects[r]; y < rects[r + 1]; y++) {
      if (y === 0 || y === height - 1) {
        for (let x = x0; x < x1; x++) max = Math.max(max, (out[y * width + x] = clampedSobel(src, width, height, x, y)));
        continue;
      }
      // the image's outermost pixels, with their reads clamped; the inside unchecked
      if (x0 === 0) max = Math.max(max, (out[y * width] = clampedSobel(src, width, height, 0, y)));
      if (x1 === width) max = Math.max(max, (out[y * width + width - 1] = clampedSobel(src, width, height, width - 1, y)));
      for (let i = y * width + Math.max(x0, 1), end = y * width + Math.min(x1, width - 1); i < end; i++) {
        const a = src[i - width - 1], b = src[i - width], c = src[i - width + 1];
        const g = src[i + width - 1], h = src[i + width], k = src[i + width + 1];
        const gx = c + 2 * src[i + 1] + k - a - 2 * src[i - 1] - g;
        const gy = g + 2 * h + k - a - 2 * b - c;
        const m = gx === 0 && gy === 0 ? 0 : Math.sqrt(gx * gx + gy * gy) * SOBEL_SCALE;
        out[i] = m;
        if (m > max) max = m;
      }
    }
  }
  return max;
}

/** The Sobel magnitude at (x, y) with its reads clamped to the image. */
function clampedSobel(src: Uint16Array, width: number, height: number, x: number, y: number): number {
  const at = (dx: number, dy: number) => src[Math.min(height - 1, Math.max(0, y + dy)) * width + Math.min(width - 1, Math.max(0, x + dx))];
  const gx = at(1, -1) + 2 * at(1, 0) + at(1, 1) - at(-1, -1) - 2 * at(-1, 0) - at(-1, 1);
  const gy = at(-1, 1) + 2 * at(0, 1) + at(1, 1) - at(-1, -1) - 2 * at(0, -1) - at(1, -1);
  return Math.sqrt(gx * gx + gy * gy) * SOBEL_SCALE;
}

const TAN_22_5 = Math.SQRT2 - 1;
const TAN_67_5 = Math.SQRT2 + 1;

/** Non-maximum suppression into `out`: 1 where the magnitude is at least `low` and a local
 * maximum along the gradient, else 0; pixels outside `region` are taken to be below `low`. The
 * gradient's direction (from the Sobel of the blurred plane, y downwards) picks the two
 * neighbours across the edge: ≈ horizontal → left and right, ≈ vertical → above and below, ↘/↖ →
 * (x−1, y−1) and (x+1, y+1), ↗/↙ → (x+1, y−1) and (x−1, y+1). Ties go to the first pixel of a
 * plateau (strictly greater than the neighbour before it, at least the one after, as OpenCV does),
 * so a sharp step gives a 1-px line. The image's outermost pixels never hold an edge. The ridge
 * pixels are also listed, in row order within each rectangle, in `list`; returns their number. */
export function nonMaxSuppress(blurred: Uint16Array, magnitude: Float32Array, width: number, height: number, low: number, out: Uint8Array, list: Int32Array, region: Region = wholeImage(width, height)): number {
  out.fill(0);
  let found = 0;
  const { rects, count } = region;
  for (let r = 0; r < 4 * count; r += 4) {
    const x0 = Math.max(1, rects[r + 2]);
    const x1 = Math.min(width - 1, rects[r + 3]);
    for (let y = Math.max(1, rects[r]), y1 = Math.min(height - 1, rects[r + 1]); y < y1; y++) {
      for (let i = y * width + x0, end = y * width + x1; i < end; i++) {
        const m = magnitude[i];
        if (m < low) continue;
        const a = blurred[i - width - 1], b = blurred[i - width], c = blurred[i - width + 1];
        const g = blurred[i + width - 1], h = blurred[i + width], k = blurred[i + width + 1];
        const gx = c + 2 * blurred[i + 1] + k - a - 2 * blurred[i - 1] - g;
        const gy = g + 2 * h + k - a - 2 * b - c;
        const ax = Math.abs(gx);
        const ay = Math.abs(gy);
        let step: number; // offset of the neighbour "after" along the gradient; "before" is −step
        if (ay <= ax * TAN_22_5) step = 1;
        else if (ay >= ax * TAN_67_5) step = width;
        else step = (gx > 0) === (gy > 0) ? width + 1 : width - 1;
        if (m > magnitude[i - step] && m >= magnitude[i + step]) {
          out[i] = 1;
          list[found++] = i;
        }
      }
    }
  }
  return found;
}

/** Hysteresis: ridge pixels at or above `high` seed edges, which grow through 8-connected ridge
 * pixels (all of them already above the low threshold). The seeds are looked for among the
 * `count` ridge pixels of `list` (nonMaxSuppress lists them), not over the whole image; which
 * order they come in changes nothing, an edge being all the ridge pixels connected to a seed.
 * Depth-first with an explicit stack of pixel indices (`stack`, one slot per pixel; each pixel is
 * pushed at most once). Returns a new mask, 255 on edges and 0 elsewhere. */
export function hysteresis(ridges: Uint8Array, magnitude: Float32Array, width: number, high: number, stack: Int32Array, list: Int32Array, count: number): Uint8Array {
  const out = new Uint8Array(ridges.length);
  const around = [-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1];
  for (let s = 0; s < count; s++) {
    const seed = list[s];
    if (out[seed] || magnitude[seed] < high) continue;
    out[seed] = 255;
    let top = 0;
    stack[top++] = seed;
    while (top > 0) {
      const p = stack[--top];
      // ridges are never on the outermost pixels, so the 8 neighbours of a ridge pixel exist
      for (let k = 0; k < 8; k++) {
        const q = p + around[k];
        if (ridges[q] && !out[q]) {
          out[q] = 255;
          stack[top++] = q;
        }
      }
    }
  }
  return out;
}
