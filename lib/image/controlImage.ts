// ControlNet conditioning images, made at render size from the frame's RGB: white structure on
// black, the way the scribble and canny ControlNets were trained.
//
//   scribble — the frame's strokes: every pixel that differs from the page colour by more than a
//              margin becomes white, everything else black (the white-page sketch inverted),
//              with solid fills reduced to their outline and hairlines widened (below).
//   canny    — the edges of the frame's content: a Canny detector written on typed arrays
//              (canny.ts; sharp has none and no maintained npm package fits).
//
// Both allocate a handful of typed arrays per call and nothing per pixel; bench/control-image.ts
// prints their time at 256² and 512².
import { cannyMask } from './canny';
import { assertRgb, type RgbImage } from './rgb';
import { LITTLE_ENDIAN, wordsOf } from './words';

export { cannyMask } from './canny';

export type ControlKind = 'scribble' | 'canny';

/** The control image of `rgb` for `kind` as one byte per pixel, 0 or 255 (its three channels are
 * equal, so the engine writes one 0..1 plane and copies it to the other two). */
export function controlMask(kind: ControlKind, rgb: RgbImage): Uint8Array {
  return kind === 'scribble' ? scribbleMask(rgb) : cannyMask(rgb);
}

/** White-on-black control image of `rgb` for `kind`, same size, RGB bytes 0 or 255 (what
 * `controlnet_cond` holds, scaled to 0..1; for the CLI, tests and pictures). */
export function controlImage(kind: ControlKind, rgb: RgbImage): RgbImage {
  assertRgb(rgb);
  return maskToRgb(controlMask(kind, rgb), rgb.width, rgb.height);
}

/** One byte per pixel (0 or 255) → packed RGB with the three channels equal. */
export function maskToRgb(mask: Uint8Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(mask.length * 3);
  for (let i = 0, j = 0; i < mask.length; i++, j += 3) {
    const v = mask[i];
    data[j] = v;
    data[j + 1] = v;
    data[j + 2] = v;
  }
  return { data, width, height };
}

// ─── scribble ────────────────────────────────────────────────────────────────────────────────

/** A pixel is a stroke when one of its channels differs from the page colour's by more than this
 * many levels (of 255). 40 keeps anti-aliased stroke borders down to ~16 % coverage of a black
 * stroke and ignores JPEG noise of a photographed page (a few levels). */
export const SCRIBBLE_MARGIN = 40;

/** Scribble mask (0/255 per pixel): strokes of any colour, on a page of any colour, in white.
 *
 * 1. Page colour: the commonest colour (RGB quantised to 4 bits a channel; the mean of the pixels
 *    in that cell). Among cells holding at least half as many pixels as the commonest, the
 *    brightest wins, so a large dark fill does not become the "page" of a white sketch.
 * 2. Strokes: Chebyshev distance to the page colour (largest channel difference) above
 *    SCRIBBLE_MARGIN. Unlike luminance alone it keeps strokes whose luminance matches the page
 *    (yellow on white differs by 255 in blue, by only ~29 in luminance).
 * 3. Solid fills become outlines: a stroke pixel further than `keep` = max(4, 6·side/512) px
 *    (chessboard distance) from the page is dropped. Strokes up to 2·keep px wide (12 px at 512²)
 *    are untouched; a filled shape keeps a band of `keep` px inside its border. The ControlNets
 *    were trained on lines; a solid blob reads to them as a white object, not as a shape.
 * 4. Hairlines are widened by one pixel on each side (3×3 dilation) when the strokes' mean width
 *    is under max(2.5, 3·side/512) px: the scribble ControlNets were trained on strokes several
 *    pixels wide at 512², and a 1-px line at a small render size is mostly lost to them.
 */
export function scribbleMask(rgb: RgbImage): Uint8Array {
  assertRgb(rgb);
  const { width, height } = rgb;
  const side = Math.min(width, height);
  const page = pageColour(rgb);
  const mask = outlineFills(strokeMask(rgb, page, SCRIBBLE_MARGIN), width, height, Math.max(4, Math.round((6 * side) / 512)));
  const strokeWidth = meanStrokeWidth(mask, width, height);
  return strokeWidth > 0 && strokeWidth < Math.max(2.5, (3 * side) / 512) ? dilate3x3(mask, width, height) : mask;
}

/** Keeps the mask's pixels within `keep` px (chessboard distance) of a background pixel, in
 * place, and returns it; outside the image is not background, so a fill cut by the frame gets no
 * line along the frame. A pixel goes when the (2·keep+1)² square around it holds no background:
 * an erosion by that square, done as two 1-D erosions.
 *   rows:    along each run of set pixels, the pixels at least `keep` from both of its ends (a run
 *            touching the image's side has no end there) are `deep`: kept as spans, not pixels
 *   columns: a pixel goes when its column is deep from keep rows above it to keep rows below
 *            (rows outside the image count as deep); per column, where its current deep run began
 *            and the last row it was deep
 * Only set pixels are visited (background four at a time), so a sketch of strokes costs ~0.3 ms
 * at 512² and one with large fills ~0.7 ms (a two-pass distance transform took ~1.2 ms). */
export function outlineFills(mask: Uint8Array, width: number, height: number, keep: number): Uint8Array {
  const spans = deepSpans(mask, width, height, keep);
  if (spans.length === 0) return mask;
  const span = 2 * keep + 1;
  // rows −keep … −1, above the image, are deep in every column
  const runStart = new Int32Array(width).fill(-keep);
  const lastDeep = new Int32Array(width).fill(-1);
  for (let s = 0; s < spans.length; s += 3) {
    const [y, from, to] = [spans[s], spans[s + 1], spans[s + 2]];
    for (let x = from; x <= to; x++) {
      if (lastDeep[x] !== y - 1) runStart[x] = y;
      lastDeep[x] = y;
      if (y - runStart[x] + 1 >= span) mask[(y - keep) * width + x] = 0;
    }
  }
  // rows below the image are deep too: the last keep rows' pixels may still go
  for (let x = 0; x < width; x++) {
    if (lastDeep[x] !== height - 1) continue;
    const run = height - runStart[x];
    for (let k = 1; k <= keep; k++) if (run + k >= span) mask[(height - 1 + k - keep) * width + x] = 0;
  }
  return mask;
}

/** The row half of outlineFills: per run of set pixels, the span of pixels at least `keep` from
 * both of its ends, as (row, first x, last x) triples in row order. */
function deepSpans(mask: Uint8Array, width: number, height: number, keep: number): number[] {
  const words = wordsOf(mask);
  const spans: number[] = [];
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; ) {
      const i = row + x;
      if ((i & 3) === 0 && x + 4 <= width && words !== undefined && words[i >> 2] === 0) {
        x += 4;
        continue;
      }
      if (!mask[i]) {
        x++;
        continue;
      }
      let end = x + 1; // the run is [x, end)
      while (end < width && mask[row + end]) end++;
      const from = x === 0 ? 0 : x + keep;
      const to = end === width ? width - 1 : end - 1 - keep;
      if (from <= to) spans.push(y, from, to);
      x = end;
    }
  }
  return spans;
}


/** The page (background) colour of a drawing: see scribbleMask. One pass counts the quantised
 * colours and sums each cell's pixels; the chosen cell's mean is the page. It reads every other
 * pixel of every other row: the page is by far the commonest colour, and a quarter of the pixels
 * finds it as surely as all of them (~0.4 ms instead of ~2 ms at 512²). */
export function pageColour(rgb: RgbImage): [number, number, number] {
  const count = new Uint32Array(4096);
  // per cell, the sum of its pixels' channels (a 512² page sums to ~17 M a channel: no overflow)
  const sums = new Float64Array(3 * 4096);
  const d = rgb.data;
  const { width, height } = rgb;
  const rowBytes = 3 * width;
  for (let y = 0; y < height; y += 2) {
    for (let j = y * rowBytes, end = j + rowBytes; j < end; j += 6) {
      const r = d[j];
      const g = d[j + 1];
      const b = d[j + 2];
      const c = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
      count[c]++;
      sums[3 * c] += r;
      sums[3 * c + 1] += g;
      sums[3 * c + 2] += b;
    }
  }
  let most = 0;
  for (let c = 0; c < 4096; c++) if (count[c] > most) most = count[c];
  let page = 0;
  let pageLum = -1;
  for (let c = 0; c < 4096; c++) {
    if (count[c] * 2 < most) continue;
    // luminance of the cell's centre colour
    const lum = 0.299 * ((c >> 8) * 16 + 8) + 0.587 * (((c >> 4) & 15) * 16 + 8) + 0.114 * ((c & 15) * 16 + 8);
    if (lum > pageLum) [page, pageLum] = [c, lum];
  }
  const n = count[page];
  return [Math.round(sums[3 * page] / n), Math.round(sums[3 * page + 1] / n), Math.round(sums[3 * page + 2] / n)];
}

/** 255 where the largest channel difference to `page` exceeds `margin`, else 0. A lookup table
 * (per channel, 255 where that channel alone is far enough) makes the test three loads and two
 * ORs a pixel; four pixels are read as three 32-bit words, and four pixels of exactly the page
 * colour (most of a drawing) are passed over at once: ~0.4 ms at 512² instead of ~1.1. */
export function strokeMask(rgb: RgbImage, page: readonly [number, number, number], margin: number): Uint8Array {
  const far = new Uint8Array(768);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) far[256 * c + v] = Math.abs(v - page[c]) > margin ? 255 : 0;
  const d = rgb.data;
  const n = rgb.width * rgb.height;
  const mask = new Uint8Array(n);
  let i = 0;
  if (LITTLE_ENDIAN && d.byteOffset % 4 === 0) {
    const words = new Uint32Array(d.buffer, d.byteOffset, (3 * n) >> 2);
    const pageWords = new Uint32Array(Uint8Array.from({ length: 12 }, (_, k) => page[k % 3]).buffer);
    const [p0, p1, p2] = pageWords;
    for (let k = 0; i + 4 <= n; i += 4, k += 3) {
      const x = words[k];
      const y = words[k + 1];
      const z = words[k + 2];
      if (x === p0 && y === p1 && z === p2) continue;
      mask[i] = far[x & 255] | far[256 + ((x >>> 8) & 255)] | far[512 + ((x >>> 16) & 255)];
      mask[i + 1] = far[x >>> 24] | far[256 + (y & 255)] | far[512 + ((y >>> 8) & 255)];
      mask[i + 2] = far[(y >>> 16) & 255] | far[256 + (y >>> 24)] | far[512 + (z & 255)];
      mask[i + 3] = far[(z >>> 8) & 255] | far[256 + ((z >>> 16) & 255)] | far[512 + (z >>> 24)];
    }
  }
  for (let j = 3 * i; i < n; i++, j += 3) mask[i] = far[d[j]] | far[256 + d[j + 1]] | far[512 + d[j + 2]];
  return mask;
}

/** Mean width in pixels of the white strokes of a mask, 0 when there are none. A stroke of width
 * w and length L has area w·L and ~2·L pixels on its border (4-neighbour outside it), so
 * w ≈ 2·area/border; lines of 1 and 2 px both measure 2 (all their pixels are border). */
export function meanStrokeWidth(mask: Uint8Array, width: number, height: number): number {
  let area = 0;
  let border = 0;
  const words = wordsOf(mask);
  for (let y = 0; y < height; y++) {
    for (let x = 0, i = y * width; x < width; x++, i++) {
      if ((i & 3) === 0 && x + 4 <= width && words !== undefined && words[i >> 2] === 0) {
        x += 3;
        i += 3;
        continue;
      }
      if (!mask[i]) continue;
      area++;
      // outside the image counts as background
      if (x === 0 || x === width - 1 || y === 0 || y === height - 1) border++;
      else if (!mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width]) border++;
    }
  }
  return border === 0 ? 0 : (2 * area) / border;
}

/** 3×3 maximum filter (a separable dilation: rows, then columns). */
export function dilate3x3(mask: Uint8Array, width: number, height: number): Uint8Array {
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const r = y * width;
    for (let x = 0; x < width; x++) {
      const l = x > 0 ? mask[r + x - 1] : 0;
      const c = mask[r + x];
      const rt = x < width - 1 ? mask[r + x + 1] : 0;
      rows[r + x] = l | c | rt;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const r = y * width;
    const up = y > 0 ? r - width : -1;
    const down = y < height - 1 ? r + width : -1;
    for (let x = 0; x < width; x++) {
      out[r + x] = rows[r + x] | (up >= 0 ? rows[up + x] : 0) | (down >= 0 ? rows[down + x] : 0);
    }
  }
  return out;
}
