// Input for benchmarks: distinct black-on-white sketches (JPEG), so every snapshot is real,
// different input. `stroke` is the circle's and the line's width in pixels.
import sharp from 'sharp';

export async function sketches(size: number, count: number, stroke = { circle: 6, line: 4 }): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const x = Math.round((size * i) / count);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="white"/>
      <circle cx="${x}" cy="${size / 2}" r="${size / 5}" fill="none" stroke="black" stroke-width="${stroke.circle}"/>
      <line x1="0" y1="${size - x}" x2="${size}" y2="${x}" stroke="#c33" stroke-width="${stroke.line}"/></svg>`;
    out.push(await sharp(Buffer.from(svg)).jpeg({ quality: 80 }).toBuffer());
  }
  return out;
}
