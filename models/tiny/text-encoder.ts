// Tiny CLIP-like text encoder: token + position embeddings, a causal mixing layer (so, as in CLIP,
// a token changes every later position, including the padding), a linear layer and LayerNorm.
// pooler_output is the hidden state at argmax(input_ids), i.e. the first <|endoftext|>, exactly
// how CLIPTextModel pools (the eos id is the largest id in the vocab).
import { attr, DT, GraphBuilder, type FloatStorage } from './onnx-graph';
import { SeededRandom } from './rng';

export const MAX_POSITIONS = 77;

export interface TextEncoderWeights {
  vocabSize: number;
  hiddenSize: number;
  tokenEmbedding: Float32Array; // [V,D]
  positionEmbedding: Float32Array; // [77,D]
  mixWeight: Float32Array; // [D,D]
  mixBias: Float32Array; // [D]
  outWeight: Float32Array; // [D,D]
  outBias: Float32Array; // [D]
}

export function textEncoderWeights(vocabSize: number, hiddenSize: number, seed: number): TextEncoderWeights {
  const D = hiddenSize;
  const rng = new SeededRandom(seed);
  return {
    vocabSize,
    hiddenSize,
    tokenEmbedding: rng.normals(vocabSize * D, 1),
    positionEmbedding: rng.normals(MAX_POSITIONS * D, 0.3),
    mixWeight: rng.normals(D * D, 1.5 / Math.sqrt(D)),
    mixBias: rng.normals(D, 0.1),
    outWeight: rng.normals(D * D, 1 / Math.sqrt(D)),
    outBias: rng.normals(D, 0.1),
  };
}

export interface TextEncoderSpec {
  idsType: 'int32' | 'int64';
  storage: FloatStorage;
}

export function buildTextEncoder(w: TextEncoderWeights, spec: TextEncoderSpec): GraphBuilder {
  const { vocabSize: V, hiddenSize: D } = w;
  const g = new GraphBuilder('tiny_clip_text_encoder', spec.storage);

  const ids = g.input('input_ids', spec.idsType, ['batch_size', 'sequence_length']);
  const tokEmb = g.weight('text_model.embeddings.token_embedding.weight', w.tokenEmbedding, [V, D]);
  const posEmb = g.weight('text_model.embeddings.position_embedding.weight', w.positionEmbedding, [MAX_POSITIONS, D]);

  const tok = g.op('Gather', [tokEmb, ids], { axis: attr.int(0) }); // [b,s,D]
  const shape = g.op('Shape', [ids]);
  const seqLen = g.op('Slice', [shape, g.int64('one', [1]), g.int64('two', [2])]); // [1]
  const pos = g.op('Slice', [posEmb, g.int64('zero', [0]), seqLen, g.int64('axis0', [0])]); // [s,D]
  const h = g.op('Add', [tok, pos]);

  // Causal mixing: running mean over positions 0..i.
  const cum = g.op('CumSum', [h, g.int64('axis1', [1], [])]);
  const count = g.op('Range', [
    g.scalar('range_start', 1),
    g.op('Add', [g.op('Cast', [g.op('Squeeze', [seqLen])], { to: attr.int(DT.FLOAT) }), g.scalar('range_one', 1)]),
    g.scalar('range_step', 1),
  ]); // [s] = 1..s
  const runningMean = g.op('Div', [cum, g.op('Unsqueeze', [count, g.int64('last_axis', [1])])]);
  const mixW = g.weight('text_model.encoder.mix.weight', w.mixWeight, [D, D]);
  const mixB = g.weight('text_model.encoder.mix.bias', w.mixBias, [D]);
  const mixed = g.op('Add', [h, g.op('Tanh', [g.op('Add', [g.op('MatMul', [runningMean, mixW]), mixB])])]);

  const outW = g.weight('text_model.encoder.out.weight', w.outWeight, [D, D]);
  const outB = g.weight('text_model.encoder.out.bias', w.outBias, [D]);
  const projected = g.op('Add', [g.op('MatMul', [mixed, outW]), outB]);
  const lnScale = g.weight('text_model.final_layer_norm.weight', Float32Array.from({ length: D }, () => 1), [D]);
  const lnBias = g.weight('text_model.final_layer_norm.bias', new Float32Array(D), [D]);
  const last = g.op('LayerNormalization', [projected, lnScale, lnBias], { axis: attr.int(-1), epsilon: attr.float(LN_EPSILON) });

  // argmax over ids in float: ORT's ArgMax has no int32/int64 kernel on every build, and ids < 2^24.
  const eosPos = g.op('ArgMax', [g.op('Cast', [ids], { to: attr.int(DT.FLOAT) })], { axis: attr.int(1), keepdims: attr.int(1) }); // [b,1]
  const pooled = g.op('GatherND', [last, eosPos], { batch_dims: attr.int(1) }); // [b,D]

  g.output('last_hidden_state', last, ['batch_size', 'sequence_length', D]);
  g.output('pooler_output', pooled, ['batch_size', D]);
  return g;
}

const LN_EPSILON = 1e-5;

/** The graph above in plain JS (float64), for calibrating the UNet's prompt response at generation
 * time. Returns last_hidden_state averaged over the sequence, which is what the UNet consumes. */
export function meanHiddenState(w: TextEncoderWeights, ids: number[]): Float64Array {
  const D = w.hiddenSize;
  const sum = new Float64Array(D);
  const cum = new Float64Array(D);
  const out = new Float64Array(D);
  const mixed = new Float64Array(D);
  ids.forEach((id, i) => {
    const h = Array.from({ length: D }, (_, j) => w.tokenEmbedding[id * D + j] + w.positionEmbedding[i * D + j]);
    for (let j = 0; j < D; j++) cum[j] += h[j];
    for (let j = 0; j < D; j++) {
      let a = w.mixBias[j];
      for (let k = 0; k < D; k++) a += (cum[k] / (i + 1)) * w.mixWeight[k * D + j];
      mixed[j] = h[j] + Math.tanh(a);
    }
    for (let j = 0; j < D; j++) {
      let a = w.outBias[j];
      for (let k = 0; k < D; k++) a += mixed[k] * w.outWeight[k * D + j];
      out[j] = a;
    }
    const mean = out.reduce((s, v) => s + v, 0) / D;
    const variance = out.reduce((s, v) => s + (v - mean) ** 2, 0) / D;
    for (let j = 0; j < D; j++) sum[j] += (out[j] - mean) / Math.sqrt(variance + LN_EPSILON);
  });
  return sum.map((v) => v / ids.length);
}
