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

export { cannyMask } from './canny';

export type ControlKind = 'scribble' | 'canny';

/** White-on-black control image of `rgb` for `kind`, same size, RGB bytes 0 or 255 (the engine
 * scales them to 0..1 for `controlnet_cond`). */
export function controlImage(kind: ControlKind, rgb: RgbImage): RgbImage {
  assertRgb(rgb);
  const mask = kind === 'scribble' ? scribbleMask(rgb) : cannyMask(rgb);
  return maskToRgb(mask, rgb.width, rgb.height);
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
 * place, and returns it. Two-pass distance transform (forward over the four neighbours already
 * visited, then backward over the other four); outside the image is not background, so a fill cut
 * by the frame gets no line along the frame. */
export function outlineFills(mask: Uint8Array, width: number, height: number, keep: number): Uint8Array {
  const FAR = 0xffff;
  const dist = new Uint16Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0, i = y * width; x < width; x++, i++) {
      if (!mask[i]) continue; // background: 0
      let m = x > 0 ? dist[i - 1] : FAR;
      if (y > 0) {
        m = Math.min(m, dist[i - width], x > 0 ? dist[i - width - 1] : FAR, x < width - 1 ? dist[i - width + 1] : FAR);
      }
      dist[i] = m === FAR ? FAR : m + 1;
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1, i = y * width + x; x >= 0; x--, i--) {
      if (!mask[i]) continue;
      let m = x < width - 1 ? dist[i + 1] : FAR;
      if (y < height - 1) {
        m = Math.min(m, dist[i + width], x > 0 ? dist[i + width - 1] : FAR, x < width - 1 ? dist[i + width + 1] : FAR);
      }
      if (m !== FAR && m + 1 < dist[i]) dist[i] = m + 1;
      if (dist[i] > keep) mask[i] = 0;
    }
  }
  return mask;
}

/** The page (background) colour of a drawing: see scribbleMask. Two passes: a histogram of the
 * quantised colours, then the mean of the pixels in the chosen cell. */
export function pageColour(rgb: RgbImage): [number, number, number] {
  const count = new Uint32Array(4096);
  const d = rgb.data;
  for (let j = 0; j < d.length; j += 3) count[((d[j] >> 4) << 8) | ((d[j + 1] >> 4) << 4) | (d[j + 2] >> 4)]++;
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
  let [r, g, b] = [0, 0, 0];
  for (let j = 0; j < d.length; j += 3) {
    if ((((d[j] >> 4) << 8) | ((d[j + 1] >> 4) << 4) | (d[j + 2] >> 4)) !== page) continue;
    r += d[j];
    g += d[j + 1];
    b += d[j + 2];
  }
  const n = count[page];
  return [Math.round(r / n), Math.round(g / n), Math.round(b / n)];
}

/** 255 where the largest channel difference to `page` exceeds `margin`, else 0. */
export function strokeMask(rgb: RgbImage, page: readonly [number, number, number], margin: number): Uint8Array {
  const [pr, pg, pb] = page;
  const d = rgb.data;
  const mask = new Uint8Array(rgb.width * rgb.height);
  for (let i = 0, j = 0; i < mask.length; i++, j += 3) {
    const dr = Math.abs(d[j] - pr);
    const dg = Math.abs(d[j + 1] - pg);
    const db = Math.abs(d[j + 2] - pb);
    if (dr > margin || dg > margin || db > margin) mask[i] = 255;
  }
  return mask;
}

/** Mean width in pixels of the white strokes of a mask, 0 when there are none. A stroke of width
 * w and length L has area w·L and ~2·L pixels on its border (4-neighbour outside it), so
 * w ≈ 2·area/border; lines of 1 and 2 px both measure 2 (all their pixels are border). */
export function meanStrokeWidth(mask: Uint8Array, width: number, height: number): number {
  let area = 0;
  let border = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
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
