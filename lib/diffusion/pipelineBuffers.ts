// The pipeline's working memory for one output size, allocated once and reused frame after frame
// (a live frame renders the same size over and over), so a run allocates almost nothing.
import type { FloatType, ModelContract } from './ModelContract';

export type FloatArray = Float32Array | Uint16Array;

/** Buffers for one output size, reused across runs. */
export interface SizeBuffers {
  width: number;
  height: number;
  /** the latent's sides (the image's / 8) and its element count (4 channels) */
  latentHeight: number;
  latentWidth: number;
  latentN: number;
  /** the VAE encoder's input of a float16 model (float32 input lives in the PlanarConverter) */
  imageHalf?: Uint16Array;
  z0: Float32Array;
  x: Float32Array;
  /** all the Gaussian noise of one run, grown to the largest step count seen */
  noiseFor(n: number): Float32Array;
  unetIn: FloatArray;
  decoderIn: FloatArray;
  epsF32?: Float32Array;
  /** RGB result when the caller does not keep it (runJpeg) */
  rgbOut?: Uint8Array;
}

/** A handful of sizes in flight at most (one per live-frame size); the least recent goes first. */
const MAX_SIZES = 4;

export class SizeBufferPool {
  private readonly bySize = new Map<string, SizeBuffers>();

  constructor(private readonly contract: ModelContract) {}

  get(width: number, height: number): SizeBuffers {
    const key = `${width}x${height}`;
    let b = this.bySize.get(key);
    if (b) {
      this.bySize.delete(key);
      this.bySize.set(key, b);
      return b;
    }
    b = allocate(this.contract, width, height);
    this.bySize.set(key, b);
    if (this.bySize.size > MAX_SIZES) this.bySize.delete(this.bySize.keys().next().value!);
    return b;
  }

  clear(): void {
    this.bySize.clear();
  }
}

function allocate(c: ModelContract, width: number, height: number): SizeBuffers {
  const pixels = 3 * width * height;
  const latentHeight = height / 8;
  const latentWidth = width / 8;
  const latent = 4 * latentHeight * latentWidth;
  const half = (t: FloatType, n: number): FloatArray => (t === 'float16' ? new Uint16Array(n) : new Float32Array(n));
  let noise = new Float32Array(latent * 5);
  return {
    width,
    height,
    latentHeight,
    latentWidth,
    latentN: latent,
    imageHalf: c.vaeEncoder.input.type === 'float16' ? new Uint16Array(pixels) : undefined,
    z0: new Float32Array(latent),
    x: new Float32Array(latent),
    noiseFor(n: number) {
      if (noise.length < n) noise = new Float32Array(n);
      return noise.subarray(0, n);
    },
    unetIn: half(c.unet.sample.type, latent),
    decoderIn: half(c.vaeDecoder.input.type, latent),
    epsF32: c.unet.sample.type === 'float16' || c.unet.output.type === 'float16' ? new Float32Array(latent) : undefined,
  };
}
