'use client';
// The settings panel's Advanced section, collapsed by default: steps, guidance, model, output size
// and when in the render the shape guide (ControlNet) applies. Each field keeps to fixed one-line
// label and hint rows.
import { useId } from 'react';
import type { Editor } from 'tldraw';
import {
  LIVE_FRAME_LIMITS,
  modelUsesGuidance,
  outputSizeChoices,
  suggestedStepsForModel,
} from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import { sizeChoiceText } from './hudText';
import { ShapeTimingField } from './LiveFrameControl';
import type { LiveEngineStatus } from './liveRenders';
import { Field, SettingSlider, frameUpdater } from './panelField';

export function LiveFrameAdvanced({
  editor,
  frame,
  engine,
}: {
  editor: Editor;
  frame: LiveFrameShape;
  engine: LiveEngineStatus | null;
}) {
  const ids = { steps: useId(), guidance: useId(), model: useId(), size: useId() };
  const { update, beginEdit } = frameUpdater(editor, frame);
  const p = frame.props;
  const L = LIVE_FRAME_LIMITS;
  const onGpu = !!engine?.executionProvider && !/cpu/i.test(engine.executionProvider);
  // a server running several models (MODELS=a,b) reports them as "a, b"; the first is its default
  const served = (engine?.model ?? '').split(',').map((m) => m.trim()).filter(Boolean);
  const model = p.model || served[0] || '';
  const suggested = suggestedStepsForModel(model, onGpu);
  const usesGuidance = modelUsesGuidance(model);
  const models = [...new Set([...served, p.model].filter((m): m is string => !!m))];
  const sizes = outputSizeChoices(p, engine?.sizes, !onGpu).map((s) => ({ ...s, ...sizeChoiceText(s.size, s.warm, !onGpu) }));

  return (
    <div className="lc-panel__advanced-body" data-testid="live-advanced-body">
      <Field
        label="Steps"
        value={p.steps}
        htmlFor={ids.steps}
        hint={suggested !== p.steps ? `this model suggests ${suggested} here` : 'more: cleaner, but slower'}
        details={`more steps: cleaner but slower; ${model || 'this model'} suggests ${suggested} on ${onGpu ? 'a GPU' : 'a CPU'}`}
      >
        <SettingSlider
          id={ids.steps}
          min={L.steps.min}
          max={L.steps.max}
          step={1}
          value={p.steps}
          onGrab={beginEdit}
          onValue={(v) => update({ steps: v }, false)}
        />
      </Field>

      <Field
        label="Guidance"
        value={p.guidance.toFixed(1)}
        htmlFor={ids.guidance}
        hint={usesGuidance ? 'how strongly the prompt steers' : 'not used by this model'}
        details="classifier-free guidance scale (LCM models only)"
      >
        <SettingSlider
          id={ids.guidance}
          min={L.guidance.min}
          max={L.guidance.max}
          step={0.5}
          value={p.guidance}
          disabled={!usesGuidance}
          onGrab={beginEdit}
          onValue={(v) => update({ guidance: v }, false)}
        />
      </Field>

      <Field label="Model" htmlFor={ids.model}>
        <select id={ids.model} data-testid="live-model" value={p.model} onChange={(e) => update({ model: e.target.value })}>
          <option value="">Server default{served[0] ? ` (${served[0]})` : ''}</option>
          {models.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </Field>

      <Field
        label="Size"
        value={`${p.outputSize}²`}
        htmlFor={ids.size}
        hint={onGpu ? 'bigger is sharper' : 'bigger is sharper, and slower on this machine'}
        details={
          (onGpu ? 'pixels on the long side of the render' : 'each doubling of the size takes about 4× the time on a CPU') +
          (engine?.sizes?.length ? '; “ready” sizes were prepared when the server started, others are slow the first time' : '')
        }
      >
        <select
          id={ids.size}
          data-testid="live-size"
          value={p.outputSize}
          onChange={(e) => update({ outputSize: Number(e.target.value) })}
        >
          {sizes.map((s) => (
            <option key={s.size} value={s.size} title={s.details} data-warm={s.warm || undefined}>
              {s.label}
            </option>
          ))}
        </select>
      </Field>
      <ShapeTimingField editor={editor} frame={frame} />
    </div>
  );
}
