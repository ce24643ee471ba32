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
import { assertRgb, type RgbImage } from './rgb';

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
 * intermediate planes live in a workspace kept for the last image size (14 bytes a pixel:
 * 3.7 MB at 512²), so a stream of frames reuses them instead of faulting in fresh pages. Not
 * re-entrant, and needs none: every call runs to its end synchronously. */
export function cannyMask(rgb: RgbImage): Uint8Array {
  assertRgb(rgb);
  const { width, height } = rgb;
  const ws = workspace(width * height);
  luminance(rgb, ws.lum);
  gaussianBlur(ws.lum, width, height, CANNY_SIGMA, ws.tmp, ws.blurred);
  const max = gradientMagnitude(ws.blurred, width, height, ws.magnitude);
  const high = Math.max(CANNY_HIGH * max, CANNY_MIN_HIGH);
  const low = Math.max(CANNY_LOW * max, CANNY_MIN_HIGH / 2);
  nonMaxSuppress(ws.blurred, ws.magnitude, width, height, low, ws.ridges);
  return hysteresis(ws.ridges, ws.magnitude, width, high, ws.stack);
}

interface Workspace {
  lum: Uint8Array;
  tmp: Uint16Array;
  blurred: Uint16Array;
  magnitude: Float32Array;
  ridges: Uint8Array;
  stack: Int32Array;
}
let kept: Workspace | undefined;

function workspace(pixels: number): Workspace {
  if (kept?.lum.length !== pixels) {
    kept = {
      lum: new Uint8Array(pixels),
      tmp: new Uint16Array(pixels),
      blurred: new Uint16Array(pixels),
      magnitude: new Float32Array(pixels),
      ridges: new Uint8Array(pixels),
      stack: new Int32Array(pixels),
    };
  }
  return kept;
}

/** Rec. 601 luma in 8 bits, rounded, one byte per pixel (weights 77/150/29 of 256). */
export function luminance(rgb: RgbImage, out: Uint8Array): void {
  const d = rgb.data;
  for (let i = 0, j = 0; i < out.length; i++, j += 3) out[i] = (77 * d[j] + 150 * d[j + 1] + 29 * d[j + 2] + 128) >> 8;
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
 * the image's edges get no dark halo. Rows (into `tmp`): the taps are unrolled, symmetric pairs
 * share a multiply; the four pixels at each end clamp their reads, the rest run unchecked. Columns: the nine source
 * rows of output row y are found once per row, then read in memory order. */
export function gaussianBlur(src: Uint8Array, width: number, height: number, sigma: number, tmp: Uint16Array, out: Uint16Array): void {
  const [k0, k1, k2, k3, k4] = gaussianTaps(sigma);
  const at = (row: number, x: number) => src[row + Math.min(width - 1, Math.max(0, x))];
  const clamped = (row: number, x: number) =>
    k0 * at(row, x) + k1 * (at(row, x - 1) + at(row, x + 1)) + k2 * (at(row, x - 2) + at(row, x + 2)) + k3 * (at(row, x - 3) + at(row, x + 3)) + k4 * (at(row, x - 4) + at(row, x + 4));
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < Math.min(4, width); x++) {
      tmp[row + x] = clamped(row, x);
      tmp[row + width - 1 - x] = clamped(row, width - 1 - x);
    }
    for (let c = row + 4, end = row + width - 4; c < end; c++) {
      tmp[c] = k0 * src[c] + k1 * (src[c - 1] + src[c + 1]) + k2 * (src[c - 2] + src[c + 2]) + k3 * (src[c - 3] + src[c + 3]) + k4 * (src[c - 4] + src[c + 4]);
    }
  }
  const rowAt = (y: number) => Math.min(height - 1, Math.max(0, y)) * width;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const u1 = rowAt(y - 1), u2 = rowAt(y - 2), u3 = rowAt(y - 3), u4 = rowAt(y - 4);
    const d1 = rowAt(y + 1), d2 = rowAt(y + 2), d3 = rowAt(y + 3), d4 = rowAt(y + 4);
    for (let x = 0; x < width; x++) {
      const s = k0 * tmp[row + x] + k1 * (tmp[u1 + x] + tmp[d1 + x]) + k2 * (tmp[u2 + x] + tmp[d2 + x]) + k3 * (tmp[u3 + x] + tmp[d3 + x]) + k4 * (tmp[u4 + x] + tmp[d4 + x]);
      out[row + x] = (s + 128) >> 8;
    }
  }
}

/** Sobel of the blurred plane (256× scale) → 1/(8·256) of it, in levels per pixel. */
const SOBEL_SCALE = 1 / 2048;

/** Euclidean magnitude of the 3×3 Sobel gradient, in levels per pixel of the blurred luminance,
 * border pixels repeated; returns the largest. The direction is not kept: non-maximum
 * suppression recomputes it for the few pixels above the low threshold. */
export function gradientMagnitude(src: Uint16Array, width: number, height: number, out: Float32Array): number {
  let max = 0;
  // the outermost pixels, with their reads clamped
  const at = (x: number, y: number) => src[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))];
  const clamped = (x: number, y: number) => {
    const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
    const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
    const m = Math.sqrt(gx * gx + gy * gy) * SOBEL_SCALE;
    out[y * width + x] = m;
    if (m > max) max = m;
  };
  for (let x = 0; x < width; x++) {
    clamped(x, 0);
    clamped(x, height - 1);
  }
  for (let y = 1; y < height - 1; y++) {
    clamped(0, y);
    clamped(width - 1, y);
  }
  // the inside, unchecked
  for (let y = 1; y < height - 1; y++) {
    for (let i = y * width + 1, end = (y + 1) * width - 1; i < end; i++) {
      const a = src[i - width - 1], b = src[i - width], c = src[i - width + 1];
      const g = src[i + width - 1], h = src[i + width], k = src[i + width + 1];
      const gx = c + 2 * src[i + 1] + k - a - 2 * src[i - 1] - g;
      const gy = g + 2 * h + k - a - 2 * b - c;
      const m = gx === 0 && gy === 0 ? 0 : Math.sqrt(gx * gx + gy * gy) * SOBEL_SCALE;
      out[i] = m;
      if (m > max) max = m;
    }
  }
  return max;
}

const TAN_22_5 = Math.SQRT2 - 1;
const TAN_67_5 = Math.SQRT2 + 1;

/** Non-maximum suppression into `out`: 1 where the magnitude is at least `low` and a local
 * maximum along the gradient, else 0. The gradient's direction (from the Sobel of the blurred
 * plane, y downwards) picks the two neighbours across the edge: ≈ horizontal → left and right,
 * ≈ vertical → above and below, ↘/↖ → (x−1, y−1) and (x+1, y+1), ↗/↙ → (x+1, y−1) and
 * (x−1, y+1). Ties go to the first pixel of a plateau (strictly greater than the neighbour before
 * it, at least the one after, as OpenCV does), so a sharp step gives a 1-px line. The image's
 * outermost pixels never hold an edge. */
export function nonMaxSuppress(blurred: Uint16Array, magnitude: Float32Array, width: number, height: number, low: number, out: Uint8Array): void {
  out.fill(0);
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
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
      if (m > magnitude[i - step] && m >= magnitude[i + step]) out[i] = 1;
    }
  }
}

/** Hysteresis: ridge pixels at or above `high` seed edges, which grow through 8-connected ridge
 * pixels (all of them already above the low threshold). Depth-first with an explicit stack of
 * pixel indices (`stack`, one slot per pixel; each pixel is pushed at most once). Returns a new
 * mask, 255 on edges and 0 elsewhere. */
export function hysteresis(ridges: Uint8Array, magnitude: Float32Array, width: number, high: number, stack: Int32Array): Uint8Array {
  const out = new Uint8Array(ridges.length);
  const around = [-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1];
  let top = 0;
  for (let i = 0; i < ridges.length; i++) {
    if (!ridges[i] || out[i] || magnitude[i] < high) continue;
    out[i] = 255;
    stack[top++] = i;
    while (top > 0) {
      const p = stack[--top];
      // ridges are never on the outermost pixels, so the 8 neighbours of a ridge pixel exist
      for (let n = 0; n < 8; n++) {
        const q = p + around[n];
        if (ridges[q] && !out[q]) {
          out[q] = 255;
          stack[top++] = q;
        }
      }
    }
  }
  return out;
}
