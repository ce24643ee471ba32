// Control images (lib/image/controlImage.ts) on fixtures drawn with sharp (SVG → raw RGB): a stroke
// on a page becomes a white line on black (scribble); the edges of a filled shape sit on its
// border and nowhere else (canny); blank pages give nothing.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { busyRegion, CALM_MARGIN, CANNY_HIGH, CANNY_LOW, CANNY_MIN_HIGH, CANNY_SIGMA, cannyWorkspace, gaussianTaps } from '../../lib/image/canny';
import { cannyMask, controlImage, outlineFills, pageColour, scribbleMask, strokeMask, type ControlKind } from '../../lib/image/controlImage';
import type { RgbImage } from '../../lib/image/rgb';

async function draw(width: number, height: number, body: string, page = 'white'): Promise<RgbImage> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="${page}"/>${body}</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Pixel coordinates (centres at x + 0.5, y + 0.5) of the set pixels of a mask. */
function setPixels(mask: Uint8Array, width: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) out.push([(i % width) + 0.5, Math.floor(i / width) + 0.5]);
  return out;
}

const at = (mask: Uint8Array, width: number, x: number, y: number) => mask[Math.floor(y) * width + Math.floor(x)];
const count = (mask: Uint8Array) => mask.reduce((n, v) => n + (v ? 1 : 0), 0);

/** Distance from point p to the segment a–b. */
function segmentDistance(p: [number, number], a: [number, number], b: [number, number]): number {
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

/** Distance from a pixel centre to the outline of the axis-aligned rectangle [x0, x1]×[y0, y1]. */
function rectBorderDistance([px, py]: [number, number], x0: number, y0: number, x1: number, y1: number): number {
  const inside = px >= x0 && px <= x1 && py >= y0 && py <= y1;
  if (inside) return Math.min(px - x0, x1 - px, py - y0, y1 - py);
  const dx = Math.max(x0 - px, 0, px - x1);
  const dy = Math.max(y0 - py, 0, py - y1);
  return Math.hypot(dx, dy);
}

const SIZES: Array<[number, number]> = [
  [128, 128],
  [512, 512],
  [320, 192],
  [150, 400],
];

describe('scribble control image', () => {
  it.each(SIZES)('a black stroke on white becomes a white line on black (%i×%i)', async (w, h) => {
    const a: [number, number] = [w * 0.15, h * 0.2];
    const b: [number, number] = [w * 0.85, h * 0.75];
    const sw = Math.max(3, Math.round(Math.min(w, h) / 64));
    const img = await draw(w, h, `<line x1="${a[0]}" y1="${a[1]}" x2="${b[0]}" y2="${b[1]}" stroke="black" stroke-width="${sw}" stroke-linecap="round"/>`);
    const mask = scribbleMask(img);
    // every white pixel lies on the stroke (its half width, plus anti-aliasing and a possible 1-px widening)
    for (const p of setPixels(mask, w)) expect(segmentDistance(p, a, b)).toBeLessThanOrEqual(sw / 2 + 1.5);
    // every point along the stroke's centre line is white
    for (let t = 0; t <= 1; t += 0.01) expect(at(mask, w, a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))).toBe(255);
    // about as many white pixels as the stroke covers: length × width, give or take its borders
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    expect(count(mask)).toBeGreaterThan(length * (sw - 1));
    expect(count(mask)).toBeLessThan((length + sw) * (sw + 3));
  });

  it.each(['red', '#0050ff', 'yellow', '#40c040'])('a %s stroke counts as a stroke', async (colour) => {
    const img = await draw(256, 256, `<circle cx="128" cy="128" r="80" fill="none" stroke="${colour}" stroke-width="6"/>`);
    const mask = scribbleMask(img);
    for (const [x, y] of setPixels(mask, 256)) expect(Math.abs(Math.hypot(x - 128, y - 128) - 80)).toBeLessThanOrEqual(3 + 1.5);
    for (let k = 0; k < 64; k++) {
      const t = (k / 64) * 2 * Math.PI;
      expect(at(mask, 256, 128 + 80 * Math.cos(t), 128 + 80 * Math.sin(t))).toBe(255);
    }
  });

  it('strokes on a coloured page: dark on beige, light on dark blue; the page is detected', async () => {
    const beige = await draw(200, 160, `<rect x="40" y="40" width="120" height="80" fill="none" stroke="#402010" stroke-width="5"/>`, '#f0e0c0');
    expect(pageColour(beige)).toEqual([0xf0, 0xe0, 0xc0]);
    const navy = await draw(200, 160, `<rect x="40" y="40" width="120" height="80" fill="none" stroke="#e0e0ff" stroke-width="5"/>`, '#102040');
    expect(pageColour(navy)).toEqual([0x10, 0x20, 0x40]);
    for (const img of [beige, navy]) {
      const mask = scribbleMask(img);
      for (const p of setPixels(mask, 200)) expect(rectBorderDistance(p, 40, 40, 160, 120)).toBeLessThanOrEqual(2.5 + 1.5);
      expect(at(mask, 200, 100, 40)).toBe(255);
      expect(at(mask, 200, 100, 80)).toBe(0); // inside the outline
      expect(at(mask, 200, 10, 10)).toBe(0); // page
    }
  });

  it('a large dark fill does not become the page of a white sketch', async () => {
    // 60 % of the frame black, 40 % white page: the brighter of the two big colours is the page
    const img = await draw(100, 100, `<rect x="0" y="0" width="100" height="60" fill="black"/>`);
    expect(pageColour(img)).toEqual([255, 255, 255]);
    const mask = scribbleMask(img);
    // the fill is cut by the frame on three sides: only its lower border is drawn, 4 px wide
    const column = Array.from({ length: 100 }, (_, y) => at(mask, 100, 50, y));
    expect(column.flatMap((v, y) => (v ? [y] : []))).toEqual([56, 57, 58, 59]);
  });

  it('a filled shape becomes its outline; strokes up to 12 px wide at 512² stay whole', async () => {
    const img = await draw(512, 512, `<rect x="100" y="100" width="200" height="150" fill="#4060c0"/>
      <rect x="360" y="50" width="12" height="400" fill="black"/>`);
    const mask = scribbleMask(img);
    for (const p of setPixels(mask, 512)) {
      const inFill = p[0] < 320;
      if (inFill) expect(rectBorderDistance(p, 100, 100, 300, 250)).toBeLessThanOrEqual(6);
    }
    expect(at(mask, 512, 200, 175)).toBe(0); // the fill's middle
    for (const y of [100, 103, 105, 175, 244, 249]) expect(at(mask, 512, 150, y)).toBe(y < 106 || y >= 244 ? 255 : 0);
    for (let x = 355; x < 377; x++) expect(at(mask, 512, x, 200)).toBe(x >= 360 && x < 372 ? 255 : 0);
  });

  it('outlineFills keeps exactly the pixels with background within keep px (brute force on random masks)', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let t = 0; t < 400; t++) {
      const [w, h, keep] = [1 + Math.floor(rnd() * 30), 1 + Math.floor(rnd() * 30), 1 + Math.floor(rnd() * 5)];
      const mask = new Uint8Array(w * h);
      for (let r = Math.floor(rnd() * 5); r > 0; r--) {
        const [x0, y0, rw, rh] = [rnd() * w, rnd() * h, rnd() * w, rnd() * h].map(Math.floor);
        for (let y = y0; y < Math.min(h, y0 + rh); y++) for (let x = x0; x < Math.min(w, x0 + rw); x++) mask[y * w + x] = 255;
      }
      for (let i = 0; i < mask.length; i++) if (rnd() < 0.02) mask[i] ^= 255;
      // a set pixel stays when its (2·keep+1)² square (clipped to the image) holds a background pixel
      const want = mask.map((v, i) => {
        if (!v) return 0;
        const [x, y] = [i % w, Math.floor(i / w)];
        for (let yy = Math.max(0, y - keep); yy <= Math.min(h - 1, y + keep); yy++)
          for (let xx = Math.max(0, x - keep); xx <= Math.min(w - 1, x + keep); xx++) if (!mask[yy * w + xx]) return 255;
        return 0;
      });
      expect(Array.from(outlineFills(mask.slice(), w, h, keep)), `${w}×${h} keep ${keep}`).toEqual(Array.from(want));
    }
  });

  it('strokeMask: the same pixels whatever the alignment and size of the buffer (word and byte paths)', async () => {
    const img = await draw(37, 23, `<path d="M2 20 L35 3" stroke="#c33" stroke-width="3"/><circle cx="12" cy="10" r="5" fill="#ff0"/>`);
    const page: [number, number, number] = [255, 255, 255];
    const aligned = strokeMask(img, page, 40);
    const shifted = new Uint8Array(img.data.length + 1).subarray(1);
    shifted.set(img.data);
    expect(Array.from(strokeMask({ ...img, data: shifted }, page, 40))).toEqual(Array.from(aligned));
    const byHand = Array.from({ length: 37 * 23 }, (_, i) =>
      [0, 1, 2].some((c) => Math.abs(img.data[3 * i + c] - 255) > 40) ? 255 : 0,
    );
    expect(Array.from(aligned)).toEqual(byHand);
  });

  it('a 1-px line at 128² is widened to ~3 px; a 4-px stroke at 512² keeps its width', async () => {
    const thin = scribbleMask(await draw(128, 128, `<rect x="20" y="64" width="88" height="1" fill="black"/>`));
    expect([at(thin, 128, 60, 63), at(thin, 128, 60, 64), at(thin, 128, 60, 65)]).toEqual([255, 255, 255]);
    expect([at(thin, 128, 60, 62), at(thin, 128, 60, 66)]).toEqual([0, 0]);
    const thick = scribbleMask(await draw(512, 512, `<rect x="50" y="256" width="400" height="4" fill="black"/>`));
    expect([at(thick, 512, 200, 255), at(thick, 512, 200, 256), at(thick, 512, 200, 259), at(thick, 512, 200, 260)]).toEqual([0, 255, 255, 0]);
    expect(count(thick)).toBe(400 * 4);
  });

  it('faint page texture is not a stroke', async () => {
    const img = noisyPage(256, 256, [235, 230, 220], 4);
    expect(count(scribbleMask(img))).toBe(0);
  });
});

describe('canny control image', () => {
  it.each(SIZES)('the edges of a filled square sit on its border (%i×%i)', async (w, h) => {
    const s = Math.round(Math.min(w, h) / 2);
    const [x0, y0] = [Math.round((w - s) / 2), Math.round((h - s) / 2)];
    const img = await draw(w, h, `<rect x="${x0}" y="${y0}" width="${s}" height="${s}" fill="#3060c0"/>`);
    const mask = cannyMask(img);
    // nothing inside or outside: every edge pixel's centre is within 1 px of the outline
    for (const p of setPixels(mask, w)) expect(rectBorderDistance(p, x0, y0, x0 + s, y0 + s)).toBeLessThanOrEqual(1);
    // and the outline is covered: each position along each side (away from the corners) has an edge pixel beside it
    const near = (x: number, y: number) => [-1, 0].some((dy) => [-1, 0].some((dx) => at(mask, w, x + dx, y + dy)));
    for (let t = 3; t <= s - 3; t++) {
      expect(near(x0 + t, y0) && near(x0 + t, y0 + s) && near(x0, y0 + t) && near(x0 + s, y0 + t)).toBe(true);
    }
    // thin: about one pixel per unit of outline
    expect(count(mask)).toBeLessThanOrEqual(4 * s + 8);
  });

  it('a filled circle: edges on its circumference, a low-contrast one too', async () => {
    for (const fill of ['black', '#d8d8d8']) {
      const img = await draw(256, 256, `<circle cx="128" cy="128" r="70" fill="${fill}"/>`);
      const mask = cannyMask(img);
      const pixels = setPixels(mask, 256);
      expect(pixels.length).toBeGreaterThan(2 * Math.PI * 70 * 0.7);
      for (const [x, y] of pixels) expect(Math.abs(Math.hypot(x - 128, y - 128) - 70)).toBeLessThanOrEqual(1.5);
    }
  });

  it('a stroke gives edges along both of its sides', async () => {
    const img = await draw(256, 128, `<rect x="30" y="60" width="200" height="8" fill="black"/>`);
    const mask = cannyMask(img);
    // down column x = 128: one edge pixel beside each side (the stroke spans y 60–68)
    const ys = Array.from({ length: 128 }, (_, y) => y).filter((y) => at(mask, 256, 128, y));
    expect(ys).toHaveLength(2);
    expect(Math.abs(ys[0] + 0.5 - 60)).toBeLessThanOrEqual(1);
    expect(Math.abs(ys[1] + 0.5 - 68)).toBeLessThanOrEqual(1);
  });

  it('blank and nearly flat pages give no edges', async () => {
    for (const img of [await draw(128, 128, ''), await draw(320, 192, '', '#e8d0a0'), noisyPage(256, 256, [200, 200, 200], 3)]) {
      expect(count(cannyMask(img))).toBe(0);
      expect(count(scribbleMask(img))).toBe(0);
    }
    // a 15-level step is below the floor (~20 levels); a 30-level one is above it
    expect(count(cannyMask(await draw(128, 128, `<rect x="32" y="32" width="64" height="64" fill="#f0f0f0"/>`)))).toBe(0);
    expect(count(cannyMask(await draw(128, 128, `<rect x="32" y="32" width="64" height="64" fill="#e1e1e1"/>`)))).toBeGreaterThan(200);
  });
});

describe('canny: flat areas skipped, same edges', () => {
  /** Canny as defined, every stage on every pixel with clamped reads, no tiles, no words: what
   * cannyMask must equal bit for bit. */
  function plainCanny({ data, width, height }: RgbImage): Uint8Array {
    const n = width * height;
    const k = gaussianTaps(CANNY_SIGMA);
    const cx = (x: number) => Math.min(width - 1, Math.max(0, x));
    const cy = (y: number) => Math.min(height - 1, Math.max(0, y));
    const lum = Array.from({ length: n }, (_, i) => (77 * data[3 * i] + 150 * data[3 * i + 1] + 29 * data[3 * i + 2] + 128) >> 8);
    const rows = lum.map((_, i) => [-4, -3, -2, -1, 0, 1, 2, 3, 4].reduce((s, d) => s + k[Math.abs(d)] * lum[i - (i % width) + cx((i % width) + d)], 0));
    const blurred = rows.map((_, i) => {
      const [x, y] = [i % width, Math.floor(i / width)];
      return ([-4, -3, -2, -1, 0, 1, 2, 3, 4].reduce((s, d) => s + k[Math.abs(d)] * rows[cy(y + d) * width + x], 0) + 128) >> 8;
    });
    const gradient = (i: number) => {
      const [x, y] = [i % width, Math.floor(i / width)];
      const b = (dx: number, dy: number) => blurred[cy(y + dy) * width + cx(x + dx)];
      return [b(1, -1) + 2 * b(1, 0) + b(1, 1) - b(-1, -1) - 2 * b(-1, 0) - b(-1, 1), b(-1, 1) + 2 * b(0, 1) + b(1, 1) - b(-1, -1) - 2 * b(0, -1) - b(1, -1)];
    };
    const exact = lum.map((_, i) => Math.hypot(...gradient(i)) / 2048); // the largest sets the thresholds unrounded
    const magnitude = Float32Array.from(exact);
    const max = Math.max(...exact);
    const [low, high] = [Math.max(CANNY_LOW * max, CANNY_MIN_HIGH / 2), Math.max(CANNY_HIGH * max, CANNY_MIN_HIGH)];
    const ridge = lum.map((_, i) => {
      const [x, y] = [i % width, Math.floor(i / width)];
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1 || magnitude[i] < low) return false;
      const [gx, gy] = gradient(i);
      const angle = Math.abs(gy) <= Math.abs(gx) * (Math.SQRT2 - 1) ? 0 : Math.abs(gy) >= Math.abs(gx) * (Math.SQRT2 + 1) ? 2 : 1;
      const step = angle === 0 ? 1 : angle === 2 ? width : gx > 0 === gy > 0 ? width + 1 : width - 1;
      return magnitude[i] > magnitude[i - step] && magnitude[i] >= magnitude[i + step];
    });
    const out = new Uint8Array(n);
    const todo = lum.flatMap((_, i) => (ridge[i] && magnitude[i] >= high ? [i] : []));
    todo.forEach((i) => (out[i] = 255));
    while (todo.length) {
      const p = todo.pop()!;
      for (const q of [p - width - 1, p - width, p - width + 1, p - 1, p + 1, p + width - 1, p + width, p + width + 1]) {
        if (ridge[q] && !out[q]) todo.push(q), (out[q] = 255);
      }
    }
    return out;
  }

  /** A page with a flat grey fill, strokes, and a patch of noise (flat, busy and in-between). */
  async function mixed(width: number, height: number): Promise<RgbImage> {
    const img = await draw(width, height, `<rect x="${width * 0.1}" y="${height * 0.15}" width="${width * 0.45}" height="${height * 0.5}" fill="#8a8a8a"/>
      <circle cx="${width * 0.7}" cy="${height * 0.6}" r="${height * 0.25}" fill="none" stroke="#203080" stroke-width="3"/>
      <path d="M 2 ${height - 4} L ${width - 3} 3" stroke="black" stroke-width="2"/>`);
    let seed = 5;
    for (let y = Math.floor(height * 0.75); y < height; y++) {
      for (let x = 0; x < Math.floor(width * 0.3); x++) for (let c = 0; c < 3; c++) img.data[3 * (y * width + x) + c] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    }
    return img;
  }

  const jpegOf = async (img: RgbImage): Promise<RgbImage> => {
    const jpeg = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  };

  it.each([
    [160, 120],
    [203, 97],
  ])('a sketch of %i×%i (drawn, JPEG-coded, 1-byte-offset buffer) gives the edges of plain Canny', async (w, h) => {
    const drawn = await mixed(w, h);
    for (const img of [drawn, await jpegOf(drawn)]) {
      const want = plainCanny(img);
      expect(count(want)).toBeGreaterThan(100);
      expect(Array.from(cannyMask(img))).toEqual(Array.from(want));
      const shifted = new Uint8Array(img.data.length + 1).subarray(1);
      shifted.set(img.data);
      expect(Array.from(cannyMask({ ...img, data: shifted }))).toEqual(Array.from(want));
    }
  });

  it('small and odd images of flat blocks and noise give the edges of plain Canny', () => {
    let seed = 11;
    const rnd = (n: number) => Math.floor(((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * n);
    for (let t = 0; t < 150; t++) {
      const [w, h] = t < 6 ? [[1, 1], [2, 3], [5, 5], [9, 9], [37, 23], [4, 40]][t] : [1 + rnd(48), 1 + rnd(48)];
      const data = new Uint8Array(3 * w * h).fill(255);
      for (let r = rnd(6); r > 0; r--) {
        const [x0, y0, rw, rh, v] = [rnd(w), rnd(h), 1 + rnd(w), 1 + rnd(h), rnd(256)];
        for (let y = y0; y < Math.min(h, y0 + rh); y++) data.fill(v, 3 * (y * w + x0), 3 * (y * w + Math.min(w, x0 + rw)));
      }
      for (let k = rnd(3) * rnd(20); k > 0; k--) data[rnd(data.length)] = rnd(256);
      const img = { data, width: w, height: h };
      expect(Array.from(cannyMask(img)), `#${t} ${w}×${h}`).toEqual(Array.from(plainCanny(img)));
    }
  });

  it('the busy region: none on a blank page, a small part of a sketch, the whole of noise', async () => {
    const busyShare = (img: RgbImage) => {
      const ws = cannyWorkspace(img.width, img.height);
      for (let i = 0; i < ws.lum.length; i++) ws.lum[i] = (77 * img.data[3 * i] + 150 * img.data[3 * i + 1] + 29 * img.data[3 * i + 2] + 128) >> 8;
      const { rects, count } = busyRegion(ws.lum, img.width, img.height, CALM_MARGIN, ws);
      let area = 0;
      for (let r = 0; r < 4 * count; r += 4) area += (rects[r + 1] - rects[r]) * (rects[r + 3] - rects[r + 2]);
      return area / (img.width * img.height);
    };
    expect(busyShare(await draw(256, 256, ''))).toBe(0);
    const sketch = await draw(256, 256, `<circle cx="128" cy="128" r="80" fill="#c04040" stroke="black" stroke-width="5"/>`);
    expect(busyShare(sketch)).toBeGreaterThan(0.05);
    expect(busyShare(sketch)).toBeLessThan(0.3);
    expect(busyShare(noisyPage(64, 64, [128, 128, 128], 20))).toBe(1);
    // a busy frame, then a blank one of the same size: the kept workspace holds nothing over
    expect(count(cannyMask(noisyPage(256, 256, [128, 128, 128], 100)))).toBeGreaterThan(0);
    expect(count(cannyMask(await draw(256, 256, '')))).toBe(0);
    expect(Array.from(cannyMask(sketch))).toEqual(Array.from(plainCanny(sketch)));
  });
});

describe('controlImage', () => {
  it.each<[ControlKind, number, number]>([
    ['scribble', 128, 128],
    ['canny', 128, 128],
    ['scribble', 512, 512],
    ['canny', 512, 512],
    ['canny', 320, 192],
  ])('%s at %i×%i: same size, grey RGB of 0 and 255 only', async (kind, w, h) => {
    const img = await draw(w, h, `<circle cx="${w / 2}" cy="${h / 2}" r="${Math.min(w, h) / 3}" fill="none" stroke="black" stroke-width="4"/>`);
    const out = controlImage(kind, img);
    expect([out.width, out.height, out.data.length]).toEqual([w, h, w * h * 3]);
    let [white, odd] = [0, 0];
    for (let j = 0; j < out.data.length; j += 3) {
      const v = out.data[j];
      if ((v !== 0 && v !== 255) || out.data[j + 1] !== v || out.data[j + 2] !== v) odd++;
      if (v) white++;
    }
    expect(odd).toBe(0);
    expect(white).toBeGreaterThan(0);
    expect(white).toBeLessThan((w * h) / 10);
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => controlImage('canny', { data: new Uint8Array(10), width: 4, height: 4 })).toThrow(RangeError);
  });

  it('timing (printed, not asserted)', async () => {
    for (const size of [256, 512]) {
      const img = await draw(size, size, `<circle cx="${size / 2}" cy="${size / 2}" r="${size / 3}" fill="#c04040" stroke="black" stroke-width="5"/>
        <path d="M ${size * 0.1} ${size * 0.9} Q ${size / 2} ${size * 0.2} ${size * 0.9} ${size * 0.8}" fill="none" stroke="#2040a0" stroke-width="3"/>`);
      const line: string[] = [];
      for (const kind of ['scribble', 'canny'] as const) {
        for (let i = 0; i < 5; i++) controlImage(kind, img); // warm up
        let best = Infinity; // best of five batches of ten: the machine may be shared
        for (let batch = 0; batch < 5; batch++) {
          const t0 = performance.now();
          for (let i = 0; i < 10; i++) controlImage(kind, img);
          best = Math.min(best, (performance.now() - t0) / 10);
        }
        line.push(`${kind} ${best.toFixed(2)} ms`);
      }
      console.log(`[control-image] ${size}²: ${line.join(', ')}`);
    }
  });
});

/** A flat page with deterministic uniform noise of ±amplitude levels per channel. */
function noisyPage(width: number, height: number, colour: [number, number, number], amplitude: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (let j = 0; j < data.length; j++) data[j] = Math.round(colour[j % 3] + amplitude * rand());
  return { data, width, height };
}
