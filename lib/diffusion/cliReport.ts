// What `npm run img2img` prints after a render: the model, a timing line per stage, the settings
// that ran (and which of them were a live frame's defaults), the file written. Each fact once.
import { resolve } from 'node:path';
import type { Img2ImgResult } from './Img2ImgPipeline';
import type { PipelineInfo } from './pipelineLoad';
import { kindLabel } from './presets';
import type { Img2ImgParams } from './renderParams';

/** "tiny-lcm (lcm, cpu, 2 threads)", "tiny-turbo (turbo + VAE from taesd, euler sampler, cpu, 2 threads)":
 * the kind in --list's words (lib/diffusion/presets kindLabel); the sampler only when it is not
 * the kind's own name; a VAE from another folder named by that folder. */
export function describeModel(info: PipelineInfo): string {
  let what = kindLabel(info.kind, info.vaeKind);
  if (info.vae !== info.name) what = `${info.kind} + ${info.vae === info.vaeKind ? '' : `${info.vaeKind} `}VAE from ${info.vae}`;
  const facts = [what];
  if (info.scheduler !== info.kind) facts.push(`${info.scheduler} sampler`);
  facts.push(info.executionProvider, `${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  return `${info.name} (${facts.join(', ')})`;
}

/** "256×256 · 1 step · strength 0.5 · seed 42": what ran (guidance only where the model uses it). */
export function describeSettings(p: Img2ImgResult['params'], info: PipelineInfo): string {
  const parts = [`${p.width}×${p.height}`, `${p.steps} step${p.steps === 1 ? '' : 's'}`, `strength ${p.strength}`];
  if (info.kind === 'lcm') parts.push(`guidance ${p.guidance}`);
  parts.push(`seed ${p.seed}`);
  for (const c of p.control ?? []) parts.push(`${c.kind} control ${c.scale}${c.start > 0 || c.end < 1 ? ` (${Math.round(c.start * 100)}–${Math.round(c.end * 100)} % of the schedule)` : ''}`);
  return parts.join(' · ');
}

export interface Report {
  info: PipelineInfo;
  loadMs: number;
  encodeMs: number;
  result: Img2ImgResult;
  /** the parameters the run was asked for */
  asked: Img2ImgParams;
  /** options that took a new live frame's default */
  defaulted: string[];
  out: string;
}

export function printReport({ info, loadMs, encodeMs, result: r, asked, defaulted, out }: Report): void {
  const t = r.timings;
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  console.log(`model       ${describeModel(info)} loaded in ${ms(loadMs)}`);
  console.log(`decode      ${ms(t.decodeMs)}`);
  console.log(`tokenize    ${ms(t.tokenizeMs)}`);
  console.log(`textEncoder ${ms(t.textEncoderMs)}`);
  console.log(`vaeEncode   ${ms(t.vaeEncodeMs)}`);
  if (r.params.control) console.log(`controlImg  ${ms(t.controlImageMs)}`);
  t.unetStepsMs.forEach((v, i) => console.log(`unet[${i}]     ${ms(v)}  (t=${r.timesteps[i]})`));
  if (t.controlNetMs > 0) console.log(`controlNet  ${ms(t.controlNetMs)}`);
  console.log(`vaeDecode   ${ms(t.vaeDecodeMs)}`);
  console.log(`encode      ${ms(encodeMs)}`);
  console.log(`total       ${ms(t.totalMs + encodeMs)}  (model ${ms(t.modelMs)}, codec ${ms(t.codecMs + encodeMs)}, overhead ${ms(t.overheadMs)})`);
  const from = defaulted.length ? `  (${defaulted.join(', ')}: a new live frame's defaults)` : '';
  console.log(`settings    ${describeSettings(r.params, info)}${from}`);
  if (r.params.steps !== asked.steps) console.log(`note        steps raised from ${asked.steps} to ${r.params.steps} so strength ${asked.strength} runs at least one step`);
  console.log(`wrote       ${resolve(out)}`);
}
