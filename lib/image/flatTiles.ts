// The busy region of a Canny input (canny.ts): where its luminance is not flat. A sketch is mostly
// page, and a decoded JPEG's page and fills are large areas of exactly one luminance; there the
// blur, Sobel and non-maximum suppression have nothing to find, and canny.ts runs them on the
// busy region only: ~12 % of bench/control-image.ts's sketch at 512², ~20 % of bench/engine.ts's
// JPEG sketch, whose strokes carry JPEG ringing a few pixels around them.

/** Rectangles of the image, `count` of them, each four numbers in `rects`: y0, y1, x0, x1
 * (half-open), in row order. */
export interface Region {
  rects: Int32Array;
  count: number;
}

export const wholeImage = (width: number, height: number): Region => ({ rects: Int32Array.of(0, height, 0, width), count: 1 });

/** The planes busyRegion writes (canny.ts's workspace) and its own per-tile scratch. */
export interface BusyPlanes {
  /** the blur's row pass and its result (256× scale), the Sobel magnitude */
  tmp: Uint16Array;
  blurred: Uint16Array;
  magnitude: Float32Array;
  /** per 4×4 tile: its luminance when flat, else −1; then when calm (two planes, used in turn) */
  tiles: Int16Array;
  spare: Int16Array;
  busy: Region;
}

/** busyRegion's scratch for an image size. */
export function tilePlanes(width: number, height: number): Pick<BusyPlanes, 'tiles' | 'spare' | 'busy'> {
  const [tw, th] = [(width + 3) >> 2, (height + 3) >> 2];
  return {
    tiles: new Int16Array(tw * th),
    spare: new Int16Array(tw * th),
    // at most one run of busy tiles per two tiles of a band
    busy: { rects: new Int32Array(4 * th * ((tw + 2) >> 1)), count: 0 },
  };
}

/** The busy region of the luminance `lum`: every 4×4 tile (the last band and column of tiles
 * may be smaller) except the calm ones, which with the CALM_MARGIN tiles around them hold one
 * luminance v. A calm tile's pixels see v over 4+ px around (the blur's reach), so their blurred
 * value and the blur's row pass are 256·v (the taps sum to 256, twice), and their gradient is
 * below the low threshold (see CALM_MARGIN): they are no edge and lose every comparison with a
 * neighbour that is above it, as 0 does. Writes those values where the stages read them outside
 * the region: `tmp` (the row pass) and `blurred` 256·v, `magnitude` 0. The region's rectangles
 * are runs of busy tiles along a band of four rows, bands with the same runs merged. */
export function busyRegion(lum: Uint8Array, width: number, height: number, margin: number, ws: BusyPlanes): Region {
  const tw = (width + 3) >> 2;
  let [calm, spare] = [ws.tiles, ws.spare];
  tileValues(lum, width, height, calm);
  // v where the tiles tx − m … tx + m of the band hold v, then where those of ty − m … ty + m do
  // (m = CALM_MARGIN): m times the same with m = 1
  for (let k = 0; k < 2 * margin; k++) {
    if (k < margin) sameAcross(calm, tw, spare);
    else sameDown(calm, tw, spare);
    [calm, spare] = [spare, calm];
  }
  const busy = busyRects(calm, width, height, ws.busy);
  fillCalm(calm, width, height, busy, ws);
  return busy;
}

/** out[t] = tiles[t] when the tiles left and right of t in its band (those that exist) are the same, else −1. */
function sameAcross(tiles: Int16Array, tw: number, out: Int16Array): void {
  for (let t0 = 0; t0 < tiles.length; t0 += tw) {
    let left = tiles[t0];
    for (let t = t0, end = t0 + tw - 1; t <= end; t++) {
      const v = tiles[t];
      const right = t < end ? tiles[t + 1] : v;
      out[t] = v === left && v === right ? v : -1;
      left = v;
    }
  }
}

/** out[t] = tiles[t] when the tiles above and below t (those that exist) are the same, else −1. */
function sameDown(tiles: Int16Array, tw: number, out: Int16Array): void {
  const n = tiles.length;
  for (let t = 0; t < n; t++) {
    const v = tiles[t];
    const up = t >= tw ? tiles[t - tw] : v;
    const down = t + tw < n ? tiles[t + tw] : v;
    out[t] = v === up && v === down ? v : -1;
  }
}

/** Writes the calm tiles' values where the stages read them: in the calm tiles next to a busy
 * one (the column pass reads 4 rows out of the region, Sobel and suppression 1 px); the planes
 * elsewhere keep whatever they held, never read. Filling them whole took longer (2 MB at 512²). */
function fillCalm(calm: Int16Array, width: number, height: number, busy: Region, ws: BusyPlanes): void {
  const { tmp, blurred, magnitude } = ws;
  const tw = (width + 3) >> 2;
  const th = (height + 3) >> 2;
  const { rects, count } = busy;
  for (let r = 0; r < 4 * count; r += 4) {
    for (let ty = Math.max(0, (rects[r] >> 2) - 1), tyEnd = Math.min(th, ((rects[r + 1] + 3) >> 2) + 1); ty < tyEnd; ty++) {
      for (let tx = Math.max(0, (rects[r + 2] >> 2) - 1), txEnd = Math.min(tw, ((rects[r + 3] + 3) >> 2) + 1); tx < txEnd; tx++) {
        const v = calm[ty * tw + tx];
        if (v < 0) continue;
        for (let y = 4 * ty; y < Math.min(height, 4 * ty + 4); y++) {
          for (let i = y * width + 4 * tx, end = y * width + Math.min(width, 4 * tx + 4); i < end; i++) {
            tmp[i] = blurred[i] = 256 * v;
            magnitude[i] = 0;
          }
        }
      }
    }
  }
}

/** The runs of busy tiles (calm −1) along each band as rectangles, bands with the same runs merged. */
function busyRects(calm: Int16Array, width: number, height: number, busy: Region): Region {
  const tw = (width + 3) >> 2;
  const rects = busy.rects;
  let count = 0;
  let last = 0; // the rectangles of the band before: last … first − 1
  for (let t0 = 0, y0 = 0; y0 < height; t0 += tw, y0 += 4) {
    const first = count;
    const y1 = Math.min(height, y0 + 4);
    for (let tx = 0; tx < tw; tx++) {
      if (calm[t0 + tx] >= 0) continue;
      let end = tx + 1;
      while (end < tw && calm[t0 + end] < 0) end++;
      rects[4 * count] = y0;
      rects[4 * count + 1] = y1;
      rects[4 * count + 2] = 4 * tx;
      rects[4 * count + 3] = Math.min(width, 4 * end);
      count++;
      tx = end - 1; // tile `end` is calm (or past the band)
    }
    let same = count - first === first - last && count > first;
    for (let r = 0; same && r < count - first; r++) same = rects[4 * (last + r) + 2] === rects[4 * (first + r) + 2] && rects[4 * (last + r) + 3] === rects[4 * (first + r) + 3];
    if (same) {
      for (let r = last; r < first; r++) rects[4 * r + 1] = y1;
      count = first;
    } else last = first;
  }
  busy.count = count;
  return busy;
}

/** Per 4×4 tile (row-major, ⌈width/4⌉ a band), its luminance when all its pixels have the same,
 * else −1. On a width that is a multiple of 4, a tile's row is one 32-bit word. */
function tileValues(lum: Uint8Array, width: number, height: number, out: Int16Array): void {
  const [tw, th] = [(width + 3) >> 2, (height + 3) >> 2];
  const words = width % 4 === 0 && lum.byteOffset % 4 === 0 ? new Int32Array(lum.buffer, lum.byteOffset, (width * height) >> 2) : undefined;
  for (let ty = 0; ty < th; ty++) {
    const [y0, y1] = [4 * ty, Math.min(height, 4 * ty + 4)];
    for (let tx = 0; tx < tw; tx++) {
      let v = lum[y0 * width + 4 * tx];
      if (words !== undefined) {
        const w = words[y0 * tw + tx];
        if (w !== Math.imul(v, 0x01010101)) v = -1;
        for (let k = (y0 + 1) * tw + tx; v >= 0 && k < y1 * tw; k += tw) if (words[k] !== w) v = -1;
      } else {
        for (let y = y0; v >= 0 && y < y1; y++) {
          for (let i = y * width + 4 * tx, end = y * width + Math.min(width, 4 * tx + 4); i < end; i++) if (lum[i] !== v) v = -1;
        }
      }
      out[ty * tw + tx] = v;
    }
  }
}
