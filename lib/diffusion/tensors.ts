// Latent arithmetic and the small tensors the pipeline feeds its sessions.
//
// The per-element loops live in small module functions rather than inline in the pipeline's async
// stages: V8 optimizes a small hot function early, and the same loops inline in one long async
// function took ~40% more time in CPU profiles of bench/engine.ts.
import * as ort from 'onnxruntime-node';
import { float16ToFloat32, float32ToFloat16 } from './fp16';
import type { FloatType, ModelContract } from './ModelContract';
import { guidanceEmbedding } from './schedulers/LcmScheduler';

/** out[j] = k·src[j] */
export function scaleInto(out: Float32Array, src: Float32Array, k: number, n: number): Float32Array {
  for (let j = 0; j < n; j++) out[j] = src[j] * k;
  return out;
}

/** out[j] = a·x[j] + b·y[j] */
export function mixInto(out: Float32Array, a: number, x: Float32Array, b: number, y: Float32Array, n: number): void {
  for (let j = 0; j < n; j++) out[j] = a * x[j] + b * y[j];
}

/** The UNet's timestep input in the dtype and rank the export declares. */
export function timestepTensor(t: number, type: ModelContract['unet']['timestep']['type'], rank: 0 | 1): ort.Tensor {
  const dims = rank === 0 ? [] : [1];
  switch (type) {
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.round(t))), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.of(Math.round(t)), dims);
    case 'float16':
      return new ort.Tensor('float16', float32ToFloat16(Float32Array.of(t)), dims);
    default:
      return new ort.Tensor('float32', Float32Array.of(t), dims);
  }
}

/** CLIP token ids as the text encoder's input tensor (int32 or int64). */
export function idsTensor(ids: Int32Array, type: 'int32' | 'int64'): ort.Tensor {
  return type === 'int64'
    ? new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length])
    : new ort.Tensor('int32', Int32Array.from(ids), [1, ids.length]);
}

/** Text-encoder output in the dtype the UNet wants. */
export function convertTensor(t: ort.Tensor, want: FloatType): ort.Tensor {
  if (t.type === want) return t;
  if (want === 'float16') return new ort.Tensor('float16', float32ToFloat16(t.data as Float32Array), t.dims);
  return new ort.Tensor('float32', float16ToFloat32(t.data as Uint16Array), t.dims);
}

/** Re-fits CLIP ids to an export with a different fixed sequence length (eos kept last). */
export function fitLength(ids: Int32Array, len: number, padId: number, eosId: number): Int32Array {
  const out = new Int32Array(len).fill(padId);
  const eosAt = ids.indexOf(eosId);
  const body = Math.min(eosAt < 0 ? ids.length : eosAt, len - 1);
  out.set(ids.subarray(0, body));
  out[body] = eosId;
  return out;
}

/** Guidance embeddings (LCM's timestep_cond) as tensors, by scale: a live frame sends the same
 * guidance every frame, so each scale is embedded once. */
export class GuidanceTensors {
  private readonly cache = new Map<number, ort.Tensor>();

  get(guidance: number, dim: number, type: FloatType): ort.Tensor {
    let t = this.cache.get(guidance);
    if (!t) {
      const emb = guidanceEmbedding(guidance, dim);
      t = type === 'float16' ? new ort.Tensor('float16', float32ToFloat16(emb), [1, dim]) : new ort.Tensor('float32', emb, [1, dim]);
      if (this.cache.size > 64) this.cache.clear();
      this.cache.set(guidance, t);
    }
    return t;
  }
}
