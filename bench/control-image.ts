// Times the ControlNet control images (lib/image/controlImage.ts, lib/image/canny.ts) at 256² and 512² on a drawn
// sketch: `npx tsx bench/control-image.ts [runs] [sizes, e.g. 256,512]`. Prints, per call, the best of five batches for each stage.
import sharp from 'sharp';
import { CANNY_SIGMA, cannyMask, gaussianBlur, gradientMagnitude, hysteresis, luminance, nonMaxSuppress } from '../lib/image/canny';
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

const runs = Number(process.argv[2] ?? 20);
for (const size of (process.argv[3] ?? '256,512').split(',').map(Number)) {
  const img = await sketch(size);
  const n = size * size;
  const [lum, tmp, blurred, magnitude, ridges, stack] = [new Uint8Array(n), new Uint16Array(n), new Uint16Array(n), new Float32Array(n), new Uint8Array(n), new Int32Array(n)];
  luminance(img, lum);
  gaussianBlur(lum, size, size, CANNY_SIGMA, tmp, blurred);
  gradientMagnitude(blurred, size, size, magnitude);
  nonMaxSuppress(blurred, magnitude, size, size, 5, ridges);
  const stages = {
    luminance: time(runs, () => luminance(img, lum)),
    blur: time(runs, () => gaussianBlur(lum, size, size, CANNY_SIGMA, tmp, blurred)),
    sobel: time(runs, () => gradientMagnitude(blurred, size, size, magnitude)),
    nms: time(runs, () => nonMaxSuppress(blurred, magnitude, size, size, 5, ridges)),
    hysteresis: time(runs, () => hysteresis(ridges, magnitude, size, 10, stack)),
  };
  console.log(`${size}²: scribble ${time(runs, () => scribbleMask(img))}, canny ${time(runs, () => cannyMask(img))}, ` +
    `controlImage(canny) ${time(runs, () => controlImage('canny', img))}`);
  console.log(`  canny stages: ${Object.entries(stages).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}
