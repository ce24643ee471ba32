// The ControlNet work of one render: the control images (lib/image/controlImage at render size,
// scaled to 0..1 planes), and per UNet step the extra feeds. Step i of n is inside a control's
// window when start ≤ i/n < end (renderParams.controlActiveAt); there
//   separate: each ControlNet in its window runs on the step's sample/timestep/prompt and its 13
//             residuals go to the UNet by name (summed when several run); outside, zeros
//   fused:    controlnet_scales carries each slot's scale in its window and 0 elsewhere;
//             controlnet_images holds the control image of each kind asked for, zeros otherwise
// Buffers are per output size and reused (ControlSizeBuffers), so a step allocates only what
// onnxruntime returns.
import * as ort from 'onnxruntime-node';
import type { RgbImage } from '../image';
import { controlMask } from '../image/controlImage';
import { wordsOf } from '../image/words';
import type { ControlNets } from './ControlNets';
import type { ScaleType } from './controlNetContract';
import { float16ToFloat32, float32ToFloat16 } from './fp16';
import type { FloatType } from './ModelContract';
import { controlActiveAt, type ControlKind, type RenderControl } from './renderParams';
import { convertTensor, timestepTensor } from './tensors';
import { nowMs, type PipelineTimings } from './timings';

type Feeds = Record<string, ort.Tensor>;

/** The control buffers of one output size, kept across renders. */
export interface ControlSizeBuffers {
  width: number;
  height: number;
  latentWidth: number;
  latentHeight: number;
  /** separate: each kind's controlnet_cond [1,3,H,W] */
  cond: Map<ControlKind, ort.Tensor>;
  /** separate: the zero residuals fed outside every window */
  zeros?: Feeds;
  /** fused: controlnet_images [N,1,3,H,W] and which slots hold an image (the rest are zeros) */
  images?: { tensor: ort.Tensor; filled: boolean[] };
  /** per kind: the input RGB its control image was last made from. A frame whose pixels did not
   * change (a slider moved, the prompt changed) reuses the image instead of making it again. */
  sources: Map<ControlKind, Uint8Array>;
  /** per kind: the mask its planes were last written from, so the next frame (a few strokes
   * more) rewrites only the pixels that changed */
  masks: Map<ControlKind, Uint8Array>;
}

export class ControlRun {
  /** the controls that run on at least one step (scale > 0, a window that holds a step) */
  private readonly wanted: RenderControl[];
  private readonly hiddenByType = new Map<string, ort.Tensor>();

  constructor(
    private readonly nets: ControlNets,
    control: readonly RenderControl[],
    private readonly steps: number,
    private readonly buf: ControlSizeBuffers,
  ) {
    this.wanted = control.filter((c) => Array.from({ length: steps }, (_, i) => controlActiveAt(c, i, steps)).some(Boolean));
  }

  /** Whether a ControlNet runs at step i (for tests and timings). */
  activeAt(i: number): ControlKind[] {
    return this.wanted.filter((c) => controlActiveAt(c, i, this.steps)).map((c) => c.kind);
  }

  /** Makes the control images of the kinds that will run from the frame at render size (or keeps
   * the ones made from the same pixels last time). */
  setImage(rgb: RgbImage, t: PipelineTimings): void {
    const t0 = nowMs();
    const { buf } = this;
    const pixels = buf.width * buf.height;
    if (this.nets.unet.layout === 'fused') {
      const images = this.fusedImages();
      const data = images.tensor.data as Float32Array | Uint16Array;
      this.nets.slots.forEach((kind, k) => {
        const c = this.wanted.find((w) => w.kind === kind);
        if (c) this.fill(c.kind, rgb, data, k * 3 * pixels, images.filled[k]);
        else if (images.filled[k]) data.fill(0, k * 3 * pixels, (k + 1) * 3 * pixels);
        images.filled[k] = c !== undefined;
      });
    } else {
      for (const c of this.wanted) {
        const type = this.nets.nets.get(c.kind)!.contract.cond.type;
        let cond = buf.cond.get(c.kind);
        const fresh = !cond;
        if (!cond) buf.cond.set(c.kind, (cond = new ort.Tensor(type, floatArray(type, 3 * pixels), [1, 3, buf.height, buf.width])));
        this.fill(c.kind, rgb, cond.data as Float32Array | Uint16Array, 0, !fresh);
      }
    }
    t.controlImageMs = nowMs() - t0;
  }

  /** `kind`'s control image of `rgb` as 0..1 planes at `offset`, unless `holds` (the target still
   * holds this kind's last image) and `rgb` has the pixels that image was made from. */
  private fill(kind: ControlKind, rgb: RgbImage, out: Float32Array | Uint16Array, offset: number, holds: boolean): void {
    const { sources } = this.buf;
    const source = sources.get(kind);
    if (holds && source && sameBytes(source, rgb.data)) return;
    const mask = controlMask(kind, rgb);
    const last = holds ? this.buf.masks.get(kind) : undefined;
    const pixels = this.buf.width * this.buf.height;
    if (last?.length === mask.length) changedPlanesInto(mask, last, out, offset, pixels);
    else maskPlanesInto(mask, out, offset, pixels);
    this.buf.masks.set(kind, mask);
    if (source?.length === rgb.data.length) source.set(rgb.data);
    else sources.set(kind, rgb.data.slice());
  }

  /** Feeds that stay the same for every step (fused: the control images). */
  fixedFeeds(): Feeds {
    if (this.nets.unet.layout !== 'fused') return {};
    return { [this.nets.unet.images.name]: this.fusedImages().tensor };
  }

  /** The UNet's ControlNet feeds at step i; runs the separate ControlNets in their window. */
  async stepFeeds(i: number, sample: ort.Tensor, timestep: number, hidden: ort.Tensor, t: PipelineTimings): Promise<Feeds> {
    const active = this.wanted.filter((c) => controlActiveAt(c, i, this.steps));
    const unet = this.nets.unet;
    if (unet.layout === 'fused') {
      const scales = this.nets.slots.map((kind) => active.find((c) => c.kind === kind)?.scale ?? 0);
      return { [unet.scales.name]: scaleTensor(scales, unet.scales.type, [scales.length]) };
    }
    if (!active.length) return this.zeros();
    let sum: Feeds | undefined;
    for (const c of active) {
      const { session, contract: k } = this.nets.nets.get(c.kind)!;
      const feeds: Feeds = {
        [k.sample.name]: sample,
        [k.timestep.name]: timestepTensor(timestep, k.timestep.type, k.timestep.rank),
        [k.hidden.name]: this.hiddenAs(hidden, k.hidden.type),
        [k.cond.name]: this.buf.cond.get(c.kind)!,
        [k.scale.name]: scaleTensor([c.scale], k.scale.type, k.scale.rank === 0 ? [] : [1]),
      };
      const t1 = nowMs();
      const out = await session.run(feeds);
      const dt = nowMs() - t1;
      t.modelMs += dt;
      t.controlNetMs += dt;
      if (!sum) sum = Object.fromEntries(unet.residuals.map((r) => [r.name, out[r.name] as ort.Tensor]));
      else for (const r of unet.residuals) addInto(sum[r.name], out[r.name] as ort.Tensor);
    }
    return sum!;
  }

  private hiddenAs(hidden: ort.Tensor, type: FloatType): ort.Tensor {
    let h = this.hiddenByType.get(type);
    if (!h) this.hiddenByType.set(type, (h = convertTensor(hidden, type)));
    return h;
  }

  private zeros(): Feeds {
    const { buf } = this;
    const unet = this.nets.unet;
    if (unet.layout !== 'separate') return {};
    buf.zeros ??= Object.fromEntries(
      unet.residuals.map((r) => {
        const dims = [1, r.channels, buf.latentHeight / r.factor, buf.latentWidth / r.factor];
        return [r.name, new ort.Tensor(r.type, floatArray(r.type, dims.reduce((a, b) => a * b, 1)), dims)];
      }),
    );
    return buf.zeros;
  }

  private fusedImages(): NonNullable<ControlSizeBuffers['images']> {
    const { buf } = this;
    const unet = this.nets.unet;
    if (unet.layout !== 'fused') throw new Error('not a fused ControlNet UNet');
    const n = this.nets.slots.length;
    if (!buf.images) {
      const data = floatArray(unet.images.type, n * 3 * buf.width * buf.height);
      buf.images = { tensor: new ort.Tensor(unet.images.type, data, [n, 1, 3, buf.height, buf.width]), filled: new Array(n).fill(false) };
    }
    return buf.images;
  }
}

/** memcmp of two byte arrays (no copies). */
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const floatArray = (type: FloatType, n: number) => (type === 'float16' ? new Uint16Array(n) : new Float32Array(n));

const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);
const UNIT_HALF = float32ToFloat16(UNIT);

/** A control mask (one byte a pixel, its three channels equal) → three equal planes in 0..1
 * (float32, or float16 bits) at `offset`: the first plane is cleared and written where the mask is
 * set, stepping over four unset pixels at once, then copied twice (memcpy). ~0.3 ms at 512²,
 * against ~1.4 ms for expanding to RGB bytes and converting three planes. */
function maskPlanesInto(mask: Uint8Array, out: Float32Array | Uint16Array, offset: number, pixels: number): void {
  const unit = out instanceof Float32Array ? UNIT : UNIT_HALF;
  out.fill(0, offset, offset + pixels);
  const words = wordsOf(mask, pixels);
  for (let p = 0; p < pixels; p++) {
    if ((p & 3) === 0 && words !== undefined && p + 4 <= pixels && words[p >> 2] === 0) {
      p += 3;
      continue;
    }
    if (mask[p]) out[offset + p] = unit[mask[p]];
  }
  out.copyWithin(offset + pixels, offset, offset + pixels);
  out.copyWithin(offset + 2 * pixels, offset, offset + pixels);
}

/** maskPlanesInto for planes that hold `last`'s image: only the pixels where `mask` differs are
 * written (equal 32-bit words are passed over four pixels at once). While someone draws, a frame
 * adds a few strokes to the last: ~0.05 ms at 512² instead of ~0.3. */
function changedPlanesInto(mask: Uint8Array, last: Uint8Array, out: Float32Array | Uint16Array, offset: number, pixels: number): void {
  const unit = out instanceof Float32Array ? UNIT : UNIT_HALF;
  const g = offset + pixels;
  const b = g + pixels;
  const words = wordsOf(mask, pixels);
  const lastWords = wordsOf(last, pixels);
  for (let p = 0; p < pixels; p++) {
    if ((p & 3) === 0 && words !== undefined && lastWords !== undefined && p + 4 <= pixels && words[p >> 2] === lastWords[p >> 2]) {
      p += 3;
      continue;
    }
    if (mask[p] === last[p]) continue;
    const v = unit[mask[p]];
    out[offset + p] = v;
    out[g + p] = v;
    out[b + p] = v;
  }
}

/** conditioning_scale / controlnet_scales in the dtype the export declares. */
function scaleTensor(values: number[], type: ScaleType, dims: number[]): ort.Tensor {
  if (type === 'float64') return new ort.Tensor('float64', Float64Array.from(values), dims);
  if (type === 'float16') return new ort.Tensor('float16', float32ToFloat16(Float32Array.from(values)), dims);
  return new ort.Tensor('float32', Float32Array.from(values), dims);
}

/** a += b, elementwise (residuals of several ControlNets are summed, as diffusers' MultiControlNet does). */
function addInto(a: ort.Tensor, b: ort.Tensor): void {
  if (a.type === 'float16') {
    const x = float16ToFloat32(a.data as Uint16Array);
    const y = float16ToFloat32(b.data as Uint16Array);
    for (let j = 0; j < x.length; j++) x[j] += y[j];
    float32ToFloat16(x, a.data as Uint16Array);
    return;
  }
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  for (let j = 0; j < x.length; j++) x[j] += y[j];
}
