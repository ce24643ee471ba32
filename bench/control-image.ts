// Times the ControlNet control images (lib/image/controlImage.ts, lib/image/canny.ts) at 256² and 512² on a drawn
// sketch, and canny's stages on it and on the same sketch JPEG-coded: `npx tsx bench/control-image.ts [runs] [sizes, e.g. 256,512]`.
// Prints, per call, the best of five batches for each stage.
import sharp from 'sharp';
import {
  busyRegion, CALM_MARGIN, CANNY_HIGH, CANNY_LOW, CANNY_MIN_HIGH, CANNY_SIGMA, cannyMask, cannyWorkspace, gaussianBlur, gradientMagnitude, hysteresis, luminance, nonMaxSuppress,
} from '../lib/image/canny';
import { controlImage, scribbleMask } from '../lib/image/controlImage';
import type { RgbImage } from '../lib/image/rgb';

async function sketch(size: number): Promise<RgbImage> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
    <rect width="100%" height="100%" fill="white"/>
    <circle cx="${size / 2}" cy="${size / 2}" r="${size / 3}" fill="#c04040" stroke="black" stroke-width="5"/>
    <path d="M ${size * 0.1} ${size * 0.9} Q ${size / 2} ${size * 0.2} ${size * 0.9} ${size * 0.8}" fill="none" stroke="#2040a0" stroke-width="3"/></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Best of five batches, mean per call within a batch: wall time, and CPU time of this process
 * (steadier when the machine is shared). */
function time(runs: number, fn: () => unknown): string {
  for (let i = 0; i < Math.min(10, runs); i++) fn(); // warm up (JIT)
  let [wall, cpu] = [Infinity, Infinity];
  for (let batch = 0; batch < 5; batch++) {
    const [t0, c0] = [performance.now(), process.cpuUsage()];
    for (let i = 0; i < runs; i++) fn();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, (performance.now() - t0) / runs);
    cpu = Math.min(cpu, (c.user + c.system) / 1000 / runs);
  }
  return `${wall.toFixed(2)} ms (cpu ${cpu.toFixed(2)})`;
}

/** Per-stage times of cannyMask on `img`, the stages run as cannyMask runs them, on a workspace
 * of their own: blur, Sobel and suppression over the busy region (the tiles that are not flat). */
function cannyStages(runs: number, img: RgbImage): string {
  const { width, height } = img;
  const ws = cannyWorkspace(width, height);
  luminance(img, ws.lum);
  const busy = busyRegion(ws.lum, width, height, CALM_MARGIN, ws);
  gaussianBlur(ws.lum, width, height, CANNY_SIGMA, ws.tmp, ws.blurred, busy);
  const max = gradientMagnitude(ws.blurred, width, height, ws.magnitude, busy);
  const [low, high] = [Math.max(CANNY_LOW * max, CANNY_MIN_HIGH / 2), Math.max(CANNY_HIGH * max, CANNY_MIN_HIGH)];
  const ridges = nonMaxSuppress(ws.blurred, ws.magnitude, width, height, low, ws.ridges, ws.list, busy);
  let area = 0;
  for (let r = 0; r < 4 * busy.count; r += 4) area += (busy.rects[r + 1] - busy.rects[r]) * (busy.rects[r + 3] - busy.rects[r + 2]);
  const stages = {
    luminance: time(runs, () => luminance(img, ws.lum)),
    'busy region': time(runs, () => busyRegion(ws.lum, width, height, CALM_MARGIN, ws)),
    blur: time(runs, () => gaussianBlur(ws.lum, width, height, CANNY_SIGMA, ws.tmp, ws.blurred, busy)),
    sobel: time(runs, () => gradientMagnitude(ws.blurred, width, height, ws.magnitude, busy)),
    nms: time(runs, () => nonMaxSuppress(ws.blurred, ws.magnitude, width, height, low, ws.ridges, ws.list, busy)),
    hysteresis: time(runs, () => hysteresis(ws.ridges, ws.magnitude, width, high, ws.stack, ws.list, ridges)),
  };
  return `busy region ${((100 * area) / (width * height)).toFixed(1)} % of the pixels; ${Object.entries(stages).map(([k, v]) => `${k} ${v}`).join(', ')}`;
}

const runs = Number(process.argv[2] ?? 20);
for (const size of (process.argv[3] ?? '256,512').split(',').map(Number)) {
  const img = await sketch(size);
  console.log(`${size}²: scribble ${time(runs, () => scribbleMask(img))}, canny ${time(runs, () => cannyMask(img))}, ` +
    `controlImage(canny) ${time(runs, () => controlImage('canny', img))}`);
  console.log(`  canny stages: ${cannyStages(runs, img)}`);
  // the same sketch as the engine gets a frame: a JPEG (quality 85) decoded, its strokes ringed by JPEG noise
  const { data } = await sharp(img.data, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 85 }).toBuffer().then((j) => sharp(j).raw().toBuffer({ resolveWithObject: true }));
  const jpeg = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: size, height: size };
  console.log(`  as a decoded JPEG: canny ${time(runs, () => cannyMask(jpeg))}; stages: ${cannyStages(runs, jpeg)}`);
}
