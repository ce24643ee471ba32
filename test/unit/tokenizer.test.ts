// CLIP tokenizer against SD's real 49,408-token vocabulary, rebuilt from openai's
// bpe_simple_vocab_16e6.txt.gz (MIT, kept in test/fixtures/clip with its licence notice).
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../lib/diffusion/ClipTokenizer';

// in the repository, so a bare clone runs the golden-id tests: a missing fixture fails, never skips
const BPE = join(import.meta.dirname, '..', 'fixtures', 'clip', 'bpe_simple_vocab_16e6.txt.gz');

describe('ClipTokenizer (real CLIP vocabulary)', () => {
  let sd1: ClipTokenizer;
  let turbo: ClipTokenizer;
  beforeAll(() => {
    if (!existsSync(BPE)) throw new Error(`missing fixture ${BPE}: the golden-id tests need test/fixtures/clip (OpenAI CLIP's MIT-licensed vocabulary)`);
    sd1 = ClipTokenizer.fromOpenAiBpe(BPE);
    turbo = ClipTokenizer.fromOpenAiBpe(BPE, { padToken: '!' });
  });

  it('reproduces the golden id vectors', () => {
    const ids = (s: string) => Array.from(sd1.encode(s).subarray(0, sd1.encode(s).indexOf(49407) + 1));
    // the SD vector quoted in InvokeAI#2378
    expect(ids('an astronaut riding a horse on mars')).toEqual([49406, 550, 18376, 6765, 320, 4558, 525, 7496, 49407]);
    expect(ids('Paris with the river in the background')).toEqual([49406, 3445, 593, 518, 2473, 530, 518, 5994, 49407]);
    expect(ids('A photo of a cat, 4k, highly detailed!!')).toEqual([49406, 320, 1125, 539, 320, 2368, 267, 275, 330, 267, 5302, 12609, 748, 49407]);
  });

  it('reads bos/eos ids from the vocabulary', () => {
    expect(sd1.bosId).toBe(49406);
    expect(sd1.eosId).toBe(49407);
  });

  it('lower-cases and collapses whitespace like the fast tokenizer', () => {
    expect(sd1.tokenize('  AN   Astronaut\n\triding ')).toEqual(sd1.tokenize('an astronaut riding'));
  });

  it('pads SD1.x prompts with eos (49407) and SD2.x/Turbo prompts with "!" (0) to 77', () => {
    const a = sd1.encode('a cat');
    expect(a.length).toBe(77);
    expect(Array.from(a.subarray(0, 4))).toEqual([49406, 320, 2368, 49407]);
    expect(a.subarray(4).every((v) => v === 49407)).toBe(true);
    const b = turbo.encode('a cat');
    expect(turbo.padId).toBe(0);
    expect(Array.from(b.subarray(0, 4))).toEqual([49406, 320, 2368, 49407]);
    expect(b.subarray(4).every((v) => v === 0)).toBe(true);
  });

  it('truncates long prompts to 77 ids and keeps the eos last', () => {
    const long = Array.from({ length: 100 }, () => 'cat').join(' ');
    const ids = sd1.encode(long);
    expect(ids.length).toBe(77);
    expect(ids[0]).toBe(49406);
    expect(ids[76]).toBe(49407);
    expect(ids.subarray(1, 76).every((v) => v === 2368)).toBe(true);
  });

  it('encodes non-ASCII text through the byte fallback without unknown tokens', () => {
    const ids = sd1.tokenize('café ✨ 日本');
    expect(ids.length).toBeGreaterThan(3);
    expect(ids.every((v) => v >= 0 && v < 49406)).toBe(true);
  });

  /** A diffusers tokenizer/ folder with SD's vocabulary, written the way transformers saves CLIPTokenizer. */
  function tokenizerFolder(config: object, specialTokensMap: object): string {
    const dir = mkdtempSync(join(tmpdir(), 'lc-tok-'));
    mkdirSync(join(dir, 'tokenizer'));
    const vocab: Record<string, number> = {};
    for (const [tok, id] of (sd1 as unknown as { vocab: Map<string, number> }).vocab) vocab[tok] = id;
    const merges = [...(sd1 as unknown as { ranks: Map<string, number> }).ranks.keys()];
    writeFileSync(join(dir, 'tokenizer', 'vocab.json'), JSON.stringify(vocab));
    writeFileSync(join(dir, 'tokenizer', 'merges.txt'), ['#version: 0.2', ...merges].join('\n') + '\n');
    writeFileSync(join(dir, 'tokenizer', 'tokenizer_config.json'), JSON.stringify({ model_max_length: 77, ...config }));
    writeFileSync(join(dir, 'tokenizer', 'special_tokens_map.json'), JSON.stringify(specialTokensMap));
    return dir;
  }
  const astronaut = (t: ClipTokenizer) => Array.from(t.encode('an astronaut riding a horse on mars').subarray(0, 10));

  it('loads the same vocabulary from a diffusers tokenizer/ folder and honours its pad token', () => {
    const t = ClipTokenizer.fromFolder(tokenizerFolder({ pad_token: '!' }, { pad_token: '!' }));
    expect(astronaut(t)).toEqual([49406, 550, 18376, 6765, 320, 4558, 525, 7496, 49407, 0]);
  });

  it('special_tokens_map.json wins over a legacy tokenizer_config.json, as in transformers', () => {
    // SD repos ship pre-4.34 configs (no added_tokens_decoder): transformers overlays
    // special_tokens_map.json on tokenizer_config.json, so its pad token is the one used
    const legacy = ClipTokenizer.fromFolder(tokenizerFolder({ pad_token: '!' }, { pad_token: { content: '<|endoftext|>' } }));
    expect(legacy.padId).toBe(49407);
    expect(astronaut(legacy)).toEqual([49406, 550, 18376, 6765, 320, 4558, 525, 7496, 49407, 49407]);
    const reverse = ClipTokenizer.fromFolder(tokenizerFolder({ pad_token: '<|endoftext|>' }, { pad_token: '!' }));
    expect(reverse.padId).toBe(0);
    // a config saved by transformers ≥ 4.34 carries added_tokens_decoder and is read alone
    const modern = ClipTokenizer.fromFolder(tokenizerFolder({ pad_token: '!', added_tokens_decoder: {} }, { pad_token: '<|endoftext|>' }));
    expect(modern.padId).toBe(0);
  });
});
