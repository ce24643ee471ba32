// The engine's image currency: packed 8-bit RGB, row-major, no alpha, no padding.
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export function assertRgb(img: RgbImage): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new RangeError(`image size must be positive integers (got ${img.width}×${img.height})`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`raw RGB data has ${img.data.length} bytes, expected ${img.width}×${img.height}×3 = ${img.width * img.height * 3}`);
  }
}
