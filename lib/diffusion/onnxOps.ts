// Which operator types an ONNX file uses, found without parsing a 100+ MB protobuf: a node's
// op_type is NodeProto field 4, stored as the bytes 0x22, <length>, <name>. Searching for that
// 6+-byte sequence (not the bare name, which a weight tensor could contain by chance) in 4 MiB
// chunks costs a few tens of milliseconds for a 200 MB file.
import { closeSync, openSync, readSync } from 'node:fs';

const OP_TYPE_TAG = 0x22; // field 4, wire type 2 (length-delimited)

function opTypeBytes(op: string): Buffer {
  const name = Buffer.from(op, 'latin1');
  if (name.length > 127) throw new Error(`op type too long: ${op}`);
  return Buffer.concat([Buffer.of(OP_TYPE_TAG, name.length), name]);
}

/** The subset of `ops` that occur as a node op_type in the ONNX file at `path`. */
export function findOpTypes(path: string, ops: readonly string[]): Set<string> {
  const patterns = ops.map((op) => ({ op, bytes: opTypeBytes(op) }));
  const found = new Set<string>();
  const overlap = Math.max(...patterns.map((p) => p.bytes.length)) - 1;
  const chunk = Buffer.alloc(4 << 20);
  const fd = openSync(path, 'r');
  try {
    let position = 0;
    let carry = 0;
    for (;;) {
      const n = readSync(fd, chunk, carry, chunk.length - carry, position);
      if (n === 0) return found;
      const view = chunk.subarray(0, carry + n);
      for (const p of patterns) if (!found.has(p.op) && view.includes(p.bytes)) found.add(p.op);
      if (found.size === patterns.length) return found;
      position += n;
      carry = Math.min(overlap, view.length);
      view.copy(chunk, 0, view.length - carry);
    }
  } finally {
    closeSync(fd);
  }
}
