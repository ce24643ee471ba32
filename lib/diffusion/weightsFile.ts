// A weights file that is really a Git-LFS pointer or empty, caught before onnxruntime reports it
// as a cryptic protobuf parse error.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { EngineError } from './errors';

export const LFS_MAGIC = 'version https://git-lfs';

/** Git-LFS pointers are ~130-byte text files that clones without git-lfs leave in place of the
 * weights. `rel` names the file in messages, `hint` says how to get a good copy. */
export function checkWeightsFile(path: string, rel: string, hint: string): void {
  const size = statSync(path).size;
  if (size === 0) throw new EngineError('MODEL_CORRUPT', `${path} is empty; ${hint}`);
  const head = Buffer.alloc(Math.min(size, LFS_MAGIC.length));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') === LFS_MAGIC) {
    throw new EngineError(
      'MODEL_LFS_POINTER',
      `${path} is a Git-LFS pointer, not the ${rel.endsWith('.onnx') ? 'model' : 'weights'}; run \`git lfs pull\` in the model repo or ${hint}`,
    );
  }
}
