// RGB image ⇄ [-1, 1] NCHW float planes for the engine, on the WebAssembly SIMD kernels when the
// runtime has them (every Node ≥ 16 on x64/arm64) and on the JS loops otherwise; both give the
// same bits. One converter per pipeline: its scratch memory is reused frame after frame.
import { PixelKernels } from './pixelKernels';
import { assertRgb, type RgbImage } from './rgb';
import { nchwToRgb, rgbToNchw } from './tensor';

export class PlanarConverter {
  private readonly kernels: PixelKernels | undefined;
  private jsPlanes: Float32Array | undefined;

  constructor(opts: { simd?: boolean } = {}) {
    this.kernels = opts.simd === false ? undefined : PixelKernels.create();
  }

  /** 'wasm-simd' or 'js': which implementation runs (for info and tests). */
  get implementation(): 'wasm-simd' | 'js' {
    return this.kernels ? 'wasm-simd' : 'js';
  }

  /** RGB → planes. The result is scratch memory, valid until the next call on this converter. */
  toPlanes(img: RgbImage): Float32Array {
    assertRgb(img);
    const pixels = img.width * img.height;
    if (this.kernels && pixels % 16 === 0) {
      const views = this.kernels.reserve(pixels);
      views.rgb.set(img.data);
      this.kernels.rgbToPlanes(views);
      return views.planes;
    }
    if (this.jsPlanes?.length !== pixels * 3) this.jsPlanes = new Float32Array(pixels * 3);
    return rgbToNchw(img, this.jsPlanes);
  }

  /** Planes → RGB, into `out` when given. */
  toRgb(planes: Float32Array, width: number, height: number, out: Uint8Array = new Uint8Array(width * height * 3)): RgbImage {
    const pixels = width * height;
    if (this.kernels && pixels % 16 === 0) {
      if (planes.length < pixels * 3) throw new RangeError(`NCHW tensor has ${planes.length} values, expected ${pixels * 3}`);
      if (out.length !== pixels * 3) throw new RangeError(`RGB buffer has ${out.length} bytes, expected ${pixels * 3}`);
      const views = this.kernels.reserve(pixels);
      views.planes.set(planes.subarray(0, pixels * 3));
      this.kernels.planesToRgb(views);
      out.set(views.rgb);
      return { data: out, width, height };
    }
    return nchwToRgb(planes, width, height, out);
  }
}
