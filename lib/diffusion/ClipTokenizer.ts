// CLIP byte-level BPE tokenizer, hand-written to match the tokenizers Stable Diffusion was trained
// with (openai/CLIP:clip/simple_tokenizer.py and huggingface/transformers:
// src/transformers/models/clip/tokenization_clip.py). SD repos ship only the "slow" vocab.json +
// merges.txt pair, which the npm tokenizer packages cannot read, and the algorithm is short.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { EngineError } from './errors';

export const CLIP_MAX_LENGTH = 77;
const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
const END_OF_WORD = '</w>';

/** CLIP's pre-tokenizer: special tokens, English contractions, letter runs, single digits, and
 * runs of everything else that is not whitespace. */
const SPLIT = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other 68 are shifted to
 * 256+n so that every byte has a visible, non-whitespace character in the vocabulary. */
function bytesToUnicode(): string[] {
  const table: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return table;
}
const BYTE_CHARS = bytesToUnicode();
/** The same characters in the reference's dict order (printable bytes first, then the shifted
 * ones), which is the order of the first 256 vocabulary entries. */
const VOCAB_BYTE_ORDER = [
  ...BYTE_CHARS.filter((c) => c.charCodeAt(0) < 256),
  ...BYTE_CHARS.filter((c) => c.charCodeAt(0) >= 256),
];
const utf8 = new TextEncoder();

export interface ClipTokenizerOptions {
  /** token string used for padding after the eos: SD1.x pads with "<|endoftext|>", SD2.x/Turbo with "!" */
  padToken?: string;
  maxLength?: number;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly maxLength: number;
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: readonly string[],
    opts: ClipTokenizerOptions = {},
  ) {
    merges.forEach((m, i) => this.ranks.set(m, i));
    this.bosId = this.idOf(BOS);
    this.eosId = this.idOf(EOS);
    this.padId = this.idOf(opts.padToken ?? EOS);
    this.maxLength = opts.maxLength ?? CLIP_MAX_LENGTH;
  }

  /** Loads `<folder>/tokenizer/{vocab.json,merges.txt}` and the pad token from
   * tokenizer_config.json / special_tokens_map.json with transformers' precedence (see
   * specialTokenConfig). */
  static fromFolder(modelFolder: string): ClipTokenizer {
    const dir = join(modelFolder, 'tokenizer');
    const vocabPath = join(dir, 'vocab.json');
    const mergesPath = join(dir, 'merges.txt');
    for (const p of [vocabPath, mergesPath]) {
      if (!existsSync(p)) {
        throw new EngineError('MODEL_MISSING', `missing tokenizer file ${p}; re-download the model folder`);
      }
    }
    let vocabJson: Record<string, number>;
    try {
      vocabJson = JSON.parse(readFileSync(vocabPath, 'utf8'));
    } catch (e) {
      throw new EngineError('MODEL_CORRUPT', `cannot parse ${vocabPath} (${(e as Error).message}); re-download the model folder`);
    }
    const merges = parseMerges(readFileSync(mergesPath, 'utf8'));
    const config = specialTokenConfig(dir);
    const padToken = tokenContent(config.pad_token) ?? EOS;
    const maxLength = typeof config.model_max_length === 'number' && config.model_max_length <= 1024 ? config.model_max_length : CLIP_MAX_LENGTH;
    return new ClipTokenizer(new Map(Object.entries(vocabJson)), merges, { padToken, maxLength });
  }

  /** Rebuilds SD's 49,408-token vocabulary from openai's bpe_simple_vocab_16e6.txt.gz the way
   * simple_tokenizer.py does: byte chars, byte chars + </w>, the 48,894 merges joined, then the
   * two specials. */
  static fromOpenAiBpe(gzPath: string, opts: ClipTokenizerOptions = {}): ClipTokenizer {
    const lines = gunzipSync(readFileSync(gzPath)).toString('utf8').split('\n');
    const merges = lines.slice(1, 49152 - 256 - 2 + 1);
    const tokens = [...VOCAB_BYTE_ORDER, ...VOCAB_BYTE_ORDER.map((c) => c + END_OF_WORD)];
    for (const m of merges) tokens.push(m.split(' ').join(''));
    tokens.push(BOS, EOS);
    return new ClipTokenizer(new Map(tokens.map((t, i) => [t, i])), merges, opts);
  }

  /** Token ids without bos/eos/padding. */
  tokenize(text: string): number[] {
    const ids: number[] = [];
    for (const m of clean(text).matchAll(SPLIT)) {
      const word = m[0];
      let pieces = this.cache.get(word);
      if (!pieces) {
        pieces = this.bpe(word);
        if (this.cache.size > 10_000) this.cache.clear();
        this.cache.set(word, pieces);
      }
      for (const id of pieces) ids.push(id);
    }
    return ids;
  }

  /** bos + tokens + eos, truncated to maxLength (eos kept) and padded with the pad id. */
  encode(text: string): Int32Array {
    const out = new Int32Array(this.maxLength).fill(this.padId);
    const body = this.tokenize(text).slice(0, this.maxLength - 2);
    out[0] = this.bosId;
    out.set(body, 1);
    out[body.length + 1] = this.eosId;
    return out;
  }

  private idOf(token: string): number {
    const id = this.vocab.get(token);
    if (id === undefined) {
      throw new EngineError('MODEL_CORRUPT', `tokenizer vocabulary has no "${token}" token; re-download the model folder`);
    }
    return id;
  }

  private bpe(word: string): number[] {
    // special tokens are single vocabulary entries, never split
    if (word === BOS || word === EOS) return [this.idOf(word)];
    let symbols = Array.from(utf8.encode(word), (b) => BYTE_CHARS[b]);
    symbols[symbols.length - 1] += END_OF_WORD;
    while (symbols.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < symbols.length - 1; i++) {
        const r = this.ranks.get(symbols[i] + ' ' + symbols[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      // merge every occurrence of the best pair in one left-to-right pass, like the reference
      const a = symbols[best];
      const b = symbols[best + 1];
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i < symbols.length - 1 && symbols[i] === a && symbols[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else {
          merged.push(symbols[i]);
        }
      }
      symbols = merged;
    }
    return symbols.map((s) => {
      const id = this.vocab.get(s);
      // a byte-level vocab covers every byte, so this only fails on a truncated vocab.json
      if (id === undefined) throw new EngineError('MODEL_CORRUPT', `tokenizer vocabulary has no entry for "${s}"; re-download the model folder`);
      return id;
    });
  }
}

/** The fast tokenizer's normalizer (NFC, collapse whitespace, trim) followed by lower-casing.
 * ftfy's mojibake repair is left out: prompts typed into a browser are already clean Unicode. */
function clean(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim().toLowerCase();
}

function parseMerges(text: string): string[] {
  return text.split('\n').filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
}

/**
 * tokenizer_config.json overlaid with special_tokens_map.json, as transformers'
 * PreTrainedTokenizerBase._from_pretrained builds its init kwargs: a config saved before
 * transformers 4.34 (no `added_tokens_decoder`, which is what SD repos ship) takes its special
 * tokens from special_tokens_map.json, which therefore wins over tokenizer_config.json; a newer
 * config carries them in itself and special_tokens_map.json is not read.
 */
function specialTokenConfig(dir: string): Record<string, unknown> {
  const config = readJsonIfExists(join(dir, 'tokenizer_config.json'));
  if ('added_tokens_decoder' in config) return config;
  return { ...config, ...readJsonIfExists(join(dir, 'special_tokens_map.json')) };
}

function readJsonIfExists(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new EngineError('MODEL_CORRUPT', `cannot parse ${path}; re-download the model folder`);
  }
}

/** Special tokens appear either as plain strings or as AddedToken objects `{content: "…"}`. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}
