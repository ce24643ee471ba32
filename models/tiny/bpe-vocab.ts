// Builds a SMALL byte-level BPE vocabulary in exactly CLIP's format, so the engine's ClipTokenizer
// reads the tiny models with the same code path as the real 49,408-token vocab:
//   ids 0..255      the 256 bytes_to_unicode characters (printable bytes first, as CLIP orders them)
//   ids 256..511    the same characters with "</w>" (end of word)
//   ids 512..       one token per merge, in merge order (merges.txt line k → id 511 + k)
//   last two ids    <|startoftext|>, <|endoftext|>
// The merges are learned here by plain BPE training over a fixed list of common English and
// prompt words, so real prompts tokenize into a realistic mix of whole words and pieces.

/** CLIP/GPT-2 bytes_to_unicode: byte → printable character, in CLIP's vocab order. */
export function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

// Weighted by repetition: earlier lines are function words that occur in most prompts.
const CORPUS = `
a a a a the the the the of of of of and and and with with with in in in on on at by for to from an
is it as or this that very very high highly best most more
photo photo photograph portrait portrait painting painting drawing sketch sketch illustration render
art art artwork style style detailed detailed detailed intricate realistic photorealistic hyperrealistic
beautiful beautiful cinematic cinematic lighting lighting light light dramatic soft warm cold golden hour
quality quality masterpiece sharp focus background foreground colorful colourful vibrant dark bright
landscape landscape mountain mountains river lake sea ocean beach forest forest tree trees flower flowers
garden field sky sky cloud clouds sun sunset sunrise moon night day morning evening rain snow storm fog
city city street building buildings house houses castle tower bridge road car cars train boat ship
cat cat dog dog horse bird birds fish lion tiger wolf fox bear rabbit dragon robot robot astronaut
man woman woman girl boy child people person face eyes hair smile hands standing sitting walking riding
red red blue blue green green yellow orange purple pink white black black brown gray grey silver gold
watercolor watercolour oil acrylic pencil charcoal ink digital concept anime cartoon comic pixel
fantasy science fiction futuristic ancient medieval modern vintage retro steampunk cyberpunk surreal
epic magical mystical peaceful happy sad old young small large big giant tiny little
wooden stone glass metal paper water fire ice
trending artstation unreal engine octane studio ghibli greg rutkowski
wide angle close up view shot camera lens bokeh depth field resolution hdr ultra
window door table chair room interior kitchen library
making painted drawn playing looking flying running standing glowing shining
nature natural wild animal animals space planet stars galaxy universe
simple minimal abstract geometric pattern texture shapes lines
top bottom left right center middle under over between behind through
paris mars earth winter summer spring autumn
`;

export interface BpeVocab {
  /** token → id, CLIP order (see file comment). */
  vocab: Map<string, number>;
  /** merge pairs in rank order ("a b"). */
  merges: string[];
  bosToken: string;
  eosToken: string;
}

export function buildBpeVocab(mergeCount: number): BpeVocab {
  const byteChars = [...bytesToUnicode().values()];
  const tokens: string[] = [...byteChars, ...byteChars.map((c) => `${c}</w>`)];
  const known = new Set(tokens);

  // Word → frequency; each word is a sequence of symbols, the last carrying "</w>".
  const freq = new Map<string, number>();
  for (const w of CORPUS.split(/\s+/).filter(Boolean)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const words = [...freq.entries()].map(([w, f]) => {
    const chars = [...w];
    return { symbols: [...chars.slice(0, -1), `${chars.at(-1)}</w>`], f };
  });

  const merges: string[] = [];
  const banned = new Set<string>();
  while (merges.length < mergeCount) {
    const counts = new Map<string, number>();
    for (const { symbols, f } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const pair = `${symbols[i]} ${symbols[i + 1]}`;
        if (!banned.has(pair)) counts.set(pair, (counts.get(pair) ?? 0) + f);
      }
    }
    // Highest count first; ties broken by the pair text so the result never depends on Map order.
    let best: string | null = null;
    let bestCount = 0;
    for (const [pair, c] of counts) {
      if (c > bestCount || (c === bestCount && best !== null && pair < best)) {
        best = pair;
        bestCount = c;
      }
    }
    if (best === null) break; // every word is a single token
    const [left, right] = best.split(' ');
    const joined = left + right;
    if (known.has(joined)) {
      // Another merge path already produced this string; a duplicate would collapse in vocab.json.
      banned.add(best);
      continue;
    }
    merges.push(best);
    tokens.push(joined);
    known.add(joined);
    for (const word of words) {
      const s = word.symbols;
      const next: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
          next.push(joined);
          i++;
        } else next.push(s[i]);
      }
      word.symbols = next;
    }
  }
  if (merges.length < mergeCount) throw new Error(`corpus yields only ${merges.length} merges, ${mergeCount} requested`);

  const bosToken = '<|startoftext|>';
  const eosToken = '<|endoftext|>';
  tokens.push(bosToken, eosToken);
  return { vocab: new Map(tokens.map((t, i) => [t, i])), merges, bosToken, eosToken };
}
