// A small ONNX graph builder on top of onnx-proto (CommonJS, hence the default import).
// The tiny models store their float tensors either as float32 or as float16; in the float16 case
// every graph input, output and weight is float16 on the wire and the arithmetic runs in float32
// behind Cast nodes, because onnxruntime's CPU EP lacks float16 kernels for several ops we use
// (Conv, Resize, LayerNormalization) and the engine only sees the I/O contract anyway.
import onnxProto from 'onnx-proto';
import { float32ToFloat16 } from '../../lib/diffusion/fp16';

const onnx = onnxProto.onnx;
type TensorProto = onnxProto.onnx.ITensorProto;
type NodeProto = onnxProto.onnx.INodeProto;
type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

export const DT = onnx.TensorProto.DataType;
export type ElemType = 'float32' | 'float16' | 'int32' | 'int64' | 'double';
export type FloatStorage = 'float32' | 'float16';
/** A dimension: fixed size or a named dynamic dimension (dim_param) as real exports use. */
export type Dim = number | string;

const ELEM: Record<ElemType, number> = {
  float32: DT.FLOAT,
  float16: DT.FLOAT16,
  int32: DT.INT32,
  int64: DT.INT64,
  double: DT.DOUBLE,
};

const AT = onnx.AttributeProto.AttributeType;
/** Typed attribute values: JS numbers cannot tell an ONNX INT from a FLOAT on their own. */
export const attr = {
  int: (i: number): AttributeProto => ({ type: AT.INT, i }),
  float: (f: number): AttributeProto => ({ type: AT.FLOAT, f }),
  ints: (ints: number[]): AttributeProto => ({ type: AT.INTS, ints }),
  floats: (floats: number[]): AttributeProto => ({ type: AT.FLOATS, floats }),
  str: (s: string): AttributeProto => ({ type: AT.STRING, s: new TextEncoder().encode(s) }),
};

function valueInfo(name: string, elem: ElemType, dims: Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface SaveOptions {
  /** Store float initializers in this file next to the model (ONNX external data), as Optimum does
   * for UNets over 2 GB. Offsets are 4 KiB aligned like onnx's save_as_external_data. */
  externalDataFile?: string;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private counter = 0;
  /** float initializers that stay in the .onnx even with external data (shape-inference inputs) */
  private readonly inline = new Set<string>();

  /** @param storage dtype of float inputs, outputs and weights on the wire. */
  constructor(
    readonly name: string,
    readonly storage: FloatStorage,
  ) {}

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** Adds a node and returns its (single) output name. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeProto> = {}, label = opType): string {
    return this.opN(opType, inputs, 1, attributes, label)[0];
  }

  opN(opType: string, inputs: string[], outputCount: number, attributes: Record<string, AttributeProto> = {}, label = opType): string[] {
    const outputs = Array.from({ length: outputCount }, () => this.fresh(label));
    this.nodes.push({
      opType,
      name: this.fresh(`${label}_node`),
      input: inputs,
      output: outputs,
      attribute: Object.entries(attributes).map(([name, a]) => ({ ...a, name })),
    });
    return outputs;
  }

  /** A float weight; returns the name of a float32 value (behind a Cast when stored as float16). */
  weight(name: string, data: Float32Array, dims: number[]): string {
    if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`weight ${name}: ${data.length} values for dims ${dims}`);
    if (this.storage === 'float32') {
      this.initializers.push({ name, dims, dataType: DT.FLOAT, rawData: bytesOf(data) });
      return name;
    }
    const stored = `${name}_fp16`;
    this.initializers.push({ name: stored, dims, dataType: DT.FLOAT16, rawData: bytesOf(float32ToFloat16(data)) });
    return this.op('Cast', [stored], { to: attr.int(DT.FLOAT) }, name);
  }

  /** An int64 constant (shapes, axes); always inline, never external. */
  int64(name: string, values: number[], dims: number[] = [values.length]): string {
    this.initializers.push({ name, dims, dataType: DT.INT64, rawData: bytesOf(BigInt64Array.from(values.map(BigInt))) });
    return name;
  }

  /** A float32 scalar constant used by the arithmetic (not a weight, so never float16). */
  scalar(name: string, value: number): string {
    this.initializers.push({ name, dims: [], dataType: DT.FLOAT, rawData: bytesOf(Float32Array.of(value)) });
    return name;
  }

  /** A float32 vector constant that ops require as float32 (e.g. Resize scales). */
  floats(name: string, values: number[]): string {
    this.initializers.push({ name, dims: [values.length], dataType: DT.FLOAT, rawData: bytesOf(Float32Array.from(values)) });
    return name;
  }

  /** Like floats(), but always stored in the .onnx itself: onnxruntime's shape inference reads
   * e.g. Resize scales while loading and cannot read them from external data. */
  inlineFloats(name: string, values: number[]): string {
    this.inline.add(name);
    return this.floats(name, values);
  }

  /** Declares a graph input. Float inputs are declared in the storage dtype; returns a float32
   * value name for floats and the raw name for integer (and double) inputs. */
  input(name: string, elem: 'float' | 'int32' | 'int64' | 'double', dims: Dim[]): string {
    if (elem !== 'float') {
      this.inputs.push(valueInfo(name, elem, dims));
      return name;
    }
    this.inputs.push(valueInfo(name, this.storage, dims));
    return this.storage === 'float32' ? name : this.op('Cast', [name], { to: attr.int(DT.FLOAT) }, `${name}_f32`);
  }

  /** Declares a float graph output computed as float32 value `value`. */
  output(name: string, value: string, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, this.storage, dims));
    if (this.storage === 'float16') {
      this.nodes.push({ opType: 'Cast', name: this.fresh(`${name}_node`), input: [value], output: [name], attribute: [{ name: 'to', type: AT.INT, i: DT.FLOAT16 }] });
      return;
    }
    // Rename the producing value rather than adding an Identity: at 512² an Identity on the
    // decoder output is a 3 MB copy, a measurable share of a few-ms pipeline.
    if (!this.nodes.some((n) => n.output?.includes(value))) throw new Error(`output ${name}: ${value} is not produced by a node`);
    for (const n of this.nodes) {
      n.input = n.input?.map((x) => (x === value ? name : x));
      n.output = n.output?.map((x) => (x === value ? name : x));
    }
  }

  /** Serialises the model. Returns the .onnx bytes and, with externalDataFile, the data file bytes. */
  build(opts: SaveOptions = {}): { model: Uint8Array; externalData?: Uint8Array } {
    let initializers = this.initializers;
    let externalData: Uint8Array | undefined;
    if (opts.externalDataFile) {
      const chunks: Uint8Array[] = [];
      let offset = 0;
      initializers = this.initializers.map((t) => {
        if ((t.dataType !== DT.FLOAT && t.dataType !== DT.FLOAT16) || this.inline.has(t.name!)) return t;
        const raw = t.rawData as Uint8Array;
        const aligned = Math.ceil(offset / 4096) * 4096;
        if (aligned > offset) chunks.push(new Uint8Array(aligned - offset));
        chunks.push(raw);
        const entry: TensorProto = {
          name: t.name,
          dims: t.dims,
          dataType: t.dataType,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: opts.externalDataFile },
            { key: 'offset', value: String(aligned) },
            { key: 'length', value: String(raw.byteLength) },
          ],
        };
        offset = aligned + raw.byteLength;
        return entry;
      });
      externalData = Buffer.concat(chunks);
    }
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'livecanvas-tiny',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return { model: onnx.ModelProto.encode(model).finish(), externalData };
  }
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  // Copy: protobufjs keeps a reference, and callers reuse their typed arrays.
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}
