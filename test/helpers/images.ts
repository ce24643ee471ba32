// Test images made with sharp: what a live frame's snapshot looks like.
import sharp from 'sharp';

/** A different little sketch (a circle on white) for each `variant`, as JPEG. */
export async function sketchJpeg(size: number, variant: number): Promise<Buffer> {
  const x = 10 + ((variant * 37) % (size - 20));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
    <rect width="100%" height="100%" fill="white"/>
    <circle cx="${x}" cy="${size / 2}" r="${size / 4}" fill="none" stroke="black" stroke-width="4"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 80 }).toBuffer();
}
