// Old Optimum exports (before late 2024) sample the VAE posterior inside vae_encoder/model.onnx:
// latent = mean + std · RandomNormalLike(mean). onnxruntime seeds that op from the clock and Node
// cannot seed it, so the same seed never gives the same picture. The newer exports return the
// posterior's parameters and the engine takes the mean; this gives the old ones the same
// behaviour by rewriting the graph once: every random-normal node (mean 0, as sampling ε is)
// becomes zeros of the same shape — its expected value — so latent = mean + std · 0 = mean. The rewritten copy is cached next to the original
// (same folder, so external-data paths still resolve) and rebuilt when the original is newer.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';

const onnx = onnxProto.onnx;
type NodeProto = onnxProto.onnx.INodeProto;

export const DETERMINISTIC_ENCODER_FILE = 'model.livecanvas-deterministic.onnx';

export interface DeterministicEncoder {
  /** the file to load: the rewritten copy, or the original when it has no random node */
  path: string;
  /** 'cache' = an up-to-date copy was already there */
  from: 'cache' | 'rewritten' | 'original';
}

/** The deterministic copy of `encoderPath`, (re)written when missing or older than the original.
 * Throws when the copy cannot be written (e.g. a read-only model folder). */
export function deterministicEncoder(encoderPath: string): DeterministicEncoder {
  const target = join(dirname(encoderPath), DETERMINISTIC_ENCODER_FILE);
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(encoderPath).mtimeMs) return { path: target, from: 'cache' };
  const model = onnx.ModelProto.decode(readFileSync(encoderPath));
  const graph = model.graph;
  if (!graph?.node) return { path: encoderPath, from: 'original' };
  let replaced = 0;
  const nodes: NodeProto[] = [];
  for (const node of graph.node) {
    const zeros = node.domain ? null : zerosInsteadOf(node, replaced);
    if (zeros) {
      nodes.push(...zeros);
      replaced++;
    } else {
      nodes.push(node);
    }
  }
  if (replaced === 0) return { path: encoderPath, from: 'original' };
  graph.node = nodes;
  // written under another name and renamed, so a reader never loads half a file
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, onnx.ModelProto.encode(model).finish());
  renameSync(tmp, target);
  return { path: target, from: 'rewritten' };
}

/** Nodes producing zeros shaped and typed like the random node's output, or null for other ops. */
function zerosInsteadOf(node: NodeProto, n: number): NodeProto[] | null {
  const out = node.output?.[0];
  if (!out) return null;
  const attr = (name: string) => node.attribute?.find((a) => a.name === name);
  const dtype = attr('dtype')?.i;
  if ((node.opType === 'RandomNormalLike' || node.opType === 'RandomNormal') && (attr('mean')?.f ?? 0) !== 0) {
    // a VAE's sampling draws ε ~ N(0, 1); any other mean would need a typed constant added back
    throw new Error(`${node.opType} node '${node.name ?? ''}' has mean ${attr('mean')!.f}, not 0; not rewritten`);
  }
  const label = `${node.name || 'random'}_livecanvas_zeros_${n}`;
  if (node.opType === 'RandomNormalLike' && node.input?.[0]) {
    // x − x: zeros with x's shape; its dtype is x's, cast when the node asked for another
    const x = node.input[0];
    if (dtype === undefined || dtype === null) return [{ opType: 'Sub', name: label, input: [x, x], output: [out] }];
    const diff = `${label}_sub`;
    return [
      { opType: 'Sub', name: diff, input: [x, x], output: [diff] },
      { opType: 'Cast', name: label, input: [diff], output: [out], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: dtype }] },
    ];
  }
  if (node.opType === 'RandomNormal') {
    // a fixed shape (attribute): ConstantOfShape(shape) with a zero of the node's dtype (float by default)
    const shape = attr('shape')?.ints;
    if (!shape) return null;
    const shapeName = `${label}_shape`;
    const elem = typeof dtype === 'number' && dtype !== 0 ? dtype : onnx.TensorProto.DataType.FLOAT;
    const zero = { dims: [1], dataType: elem, rawData: new Uint8Array(elementBytes(elem)) };
    const shapeTensor = { dims: [shape.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: shape };
    const T = onnx.AttributeProto.AttributeType.TENSOR;
    return [
      { opType: 'Constant', name: shapeName, output: [shapeName], attribute: [{ name: 'value', type: T, t: shapeTensor }] },
      { opType: 'ConstantOfShape', name: label, input: [shapeName], output: [out], attribute: [{ name: 'value', type: T, t: zero }] },
    ];
  }
  return null;
}

function elementBytes(dataType: number): number {
  const D = onnx.TensorProto.DataType;
  return dataType === D.FLOAT16 || dataType === D.BFLOAT16 ? 2 : dataType === D.DOUBLE ? 8 : 4;
}
