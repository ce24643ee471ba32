// Byte planes read four bytes at a time: the loops over images step over four background pixels
// at once where a 32-bit word is 0 (or equal to its twin), and read packed RGB as three words per
// four pixels. Bytes are unpacked low byte first, which needs a little-endian host.

export const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The first ⌊length/4⌋ words of `bytes` as a Uint32Array view (no copy) when it is 4-byte
 * aligned, else undefined (callers then go byte by byte). */
export function wordsOf(bytes: Uint8Array, length = bytes.length): Uint32Array | undefined {
  return bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, length >> 2) : undefined;
}
