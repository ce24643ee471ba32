// Scheduler math against reference values computed with numpy in float64, mirroring diffusers'
// scheduling_lcm.py, scheduling_euler_(ancestral_)discrete.py and the img2img get_timesteps.
import { describe, expect, it } from 'vitest';
import { alphasCumprod, sigmaOf } from '../../lib/diffusion/schedulers/alphas';
import { EulerScheduler, eulerAdjustedSteps } from '../../lib/diffusion/schedulers/EulerScheduler';
import { guidanceEmbedding, LcmScheduler } from '../../lib/diffusion/schedulers/LcmScheduler';
import { chooseSampler, samplerFromConfig } from '../../lib/diffusion/schedulers/samplerChoice';

const close = (a: number, b: number, tol = 1e-5) => expect(Math.abs(a - b)).toBeLessThanOrEqual(tol);

describe('scaled_linear schedule', () => {
  const acp = alphasCumprod();
  it('alphas_cumprod', () => {
    close(acp[0], 0.99915);
    close(acp[259], 0.658975526890813);
    close(acp[499], 0.27766965045646763);
    close(acp[749], 0.056623491598269717);
    close(acp[999], 0.004660098513077238);
  });
  it('sigmas', () => {
    close(sigmaOf(acp, 999), 14.614641229333639);
    close(sigmaOf(acp, 749), 4.081729363724308);
    close(sigmaOf(acp, 499), 1.612886194303876);
    close(sigmaOf(acp, 259), 0.7193796203058821);
  });
});

describe('LcmScheduler', () => {
  const s = new LcmScheduler();
  it.each([
    [4, 1, [999, 759, 499, 259]],
    [4, 0.5, [499, 379, 259, 139]],
    [2, 0.5, [499, 259]],
    [4, 0.8, [799, 599, 399, 199]],
    [3, 0.6, [599, 399, 199]],
    [1, 1, [999]],
    [8, 1, [999, 879, 759, 639, 499, 379, 259, 139]],
    [4, 0.08, [79, 59, 39, 19]],
    // 50·0.58 = 28.999… → 28 skeleton steps, as Python's int() gives
    [5, 0.58, [559, 459, 339, 239, 119]],
    // 30 skeleton steps (computed with numpy, diffusers' formula): linspace gives 11·(30/22) =
    // 14.999… → index 14 (319) where the exact 11·30/22 = 15 would pick 299; likewise
    // 13·(30/26) → 319 at position 13
    [22, 0.6, [599, 579, 559, 519, 499, 479, 439, 419, 399, 359, 339, 319, 279, 259, 219, 199, 179, 139, 119, 99, 59, 39]],
    [26, 0.6, [599, 579, 559, 539, 519, 499, 479, 439, 419, 399, 379, 359, 339, 319, 279, 259, 239, 219, 199, 179, 139, 119, 99, 79, 59, 39]],
  ])('setTimesteps(%i, %f)', (n, strength, want) => {
    expect(s.setTimesteps(n, strength)).toEqual(want);
  });

  it('rejects a schedule the strength cannot hold, saying what to change', () => {
    expect(() => s.setTimesteps(4, 0.07)).toThrow(/at most 3 LCM steps.*lower steps to 3 or raise strength to ≥ 0.08/);
    expect(() => s.setTimesteps(1, 0.01)).toThrow(/too low.*≥ 0.02/);
    expect(() => s.setTimesteps(51, 1)).toThrow(/steps must be an integer from 1 to 50/);
  });

  it('boundary scalings', () => {
    const a = s.boundaryScalings(999);
    close(a.cSkip, 2.5050075037374525e-9);
    close(a.cOut, 0.9999999987474963);
    const b = s.boundaryScalings(19);
    close(b.cSkip, 6.92515979806234e-6, 1e-10);
    close(b.cOut, 0.9999965374141062);
  });

  it('step: x0 from epsilon, then re-noised to the next timestep; the last step returns the denoised', () => {
    s.setTimesteps(2, 0.5); // [499, 259]
    const acp = s.acp;
    const x = Float32Array.of(0.7);
    const eps = [0.3];
    s.step(eps, 0, x, [-1.2]);
    const x0 = (0.7 - Math.sqrt(1 - acp[499]) * 0.3) / Math.sqrt(acp[499]);
    const { cSkip, cOut } = s.boundaryScalings(499);
    const den = cOut * x0 + cSkip * 0.7;
    close(x[0], Math.sqrt(acp[259]) * den + Math.sqrt(1 - acp[259]) * -1.2);
    const xin = x[0];
    s.step([0.1], 1, x);
    const b = s.boundaryScalings(259);
    close(x[0], b.cOut * ((xin - Math.sqrt(1 - acp[259]) * 0.1) / Math.sqrt(acp[259])) + b.cSkip * xin);
  });

  it('guidance embedding w_emb(g=8, 256)', () => {
    const e = guidanceEmbedding(8, 256);
    expect(e.length).toBe(256);
    const want: [number, number][] = [
      [0, 0.5068854299491697], [1, 0.8043868547938211], [2, -0.8604568494774898], [127, 0.6442176872376906],
      [128, 0.8620134342951074], [129, 0.5941058725807247], [130, -0.5095233166276814], [255, 0.7648421872844888],
    ];
    for (const [i, v] of want) close(e[i], v);
    const f = guidanceEmbedding(1.5, 256);
    close(f[0], -0.46777180532247614);
    close(f[5], 0.7093229232351678);
    close(f[200], -0.9037789109356357);
  });
});

describe('EulerScheduler (trailing)', () => {
  it.each([
    [1, [999]],
    [2, [999, 499]],
    [3, [999, 666, 332]],
    [4, [999, 749, 499, 249]],
    [5, [999, 799, 599, 399, 199]],
    // halves round to even like numpy: 812.5 → 812
    [16, [999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61]],
  ])('full schedule for %i steps', (n, want) => {
    const s = new EulerScheduler();
    s.setTimesteps(n, 1);
    expect(s.fullTimesteps).toEqual(want);
    expect(s.timesteps).toEqual(want);
  });

  it('img2img keeps the last floor(n·strength) timesteps with their sigmas', () => {
    const s = new EulerScheduler();
    expect(s.setTimesteps(4, 0.5)).toEqual([499, 249]);
    close(s.sigmas[0], 1.612886194303876);
    close(s.sigmas[1], 0.6932048996386885);
    expect(s.sigmas[2]).toBe(0);
    expect(s.noiseCoefficients()).toEqual({ signal: 1, noise: s.sigmas[0] });
    close(s.modelInputScale(0), 1 / Math.sqrt(1.612886194303876 ** 2 + 1));
  });

  it('raises steps when strength would leave none (documented guard), still one UNet call', () => {
    expect(eulerAdjustedSteps(1, 0.5)).toBe(2);
    expect(eulerAdjustedSteps(2, 0.3)).toBe(4);
    expect(eulerAdjustedSteps(1, 0.05)).toBe(20);
    expect(eulerAdjustedSteps(4, 0.5)).toBe(4);
    const s = new EulerScheduler();
    expect(s.setTimesteps(1, 0.5)).toEqual([499]);
    expect(s.steps).toBe(2);
    expect(s.setTimesteps(1, 0.05)).toEqual([49]);
  });

  it('Euler-ancestral step splits the next sigma into down/up (reference values)', () => {
    const s = new EulerScheduler({ ancestral: true });
    s.setTimesteps(4, 1);
    const want = [
      [3.9193037798533163, 1.1399879297241489],
      [1.4816256069112863, 0.6373283586353291],
      [0.6259142010907794, 0.2979336264270543],
    ];
    for (let i = 0; i < 3; i++) {
      const x = Float32Array.of(2);
      s.step([0.5], i, x, [1]);
      const [up, down] = want[i];
      // x + eps·(down − σ) + up·noise
      close(x[0], 2 + 0.5 * (down - s.sigmas[i]) + up, 1e-5);
      expect(s.stepNeedsNoise(i)).toBe(true);
    }
    const x = Float32Array.of(2);
    s.step([0.5], 3, x);
    close(x[0], 2 - 0.5 * 0.6932048996386885); // last step: x0 = x − σ·eps
    expect(s.stepNeedsNoise(3)).toBe(false);
  });

  it('plain Euler step moves along the derivative without noise', () => {
    const s = new EulerScheduler({ ancestral: false });
    s.setTimesteps(2, 1);
    const x = Float32Array.of(3);
    s.step([0.25], 0, x);
    close(x[0], 3 + 0.25 * (s.sigmas[1] - s.sigmas[0]));
    expect(s.stepNeedsNoise(0)).toBe(false);
  });
});

// A live frame allows any strength 0..1 and steps 1..8; fitParams turns that into a pair the
// sampler runs, keeping the user's strength whenever it can.
describe('fitParams (the live loop fix-up)', () => {
  it('LCM lowers steps to floor(original·strength) and raises a strength below 1/original to exactly that', () => {
    const s = new LcmScheduler();
    expect(s.fitParams(4, 0.06)).toEqual({ strength: 0.06, steps: 3 });
    expect(s.fitParams(4, 0)).toEqual({ strength: 0.02, steps: 1 });
    expect(s.fitParams(4, 0.5)).toEqual({ strength: 0.5, steps: 4 });
    expect(s.fitParams(8, 1)).toEqual({ strength: 1, steps: 8 });
    // the distillation schedule of the model decides, not a constant
    expect(new LcmScheduler({ originalInferenceSteps: 10 }).fitParams(4, 0.25)).toEqual({ strength: 0.25, steps: 2 });
    expect(new LcmScheduler({ originalInferenceSteps: 10 }).fitParams(4, 0)).toEqual({ strength: 0.1, steps: 1 });
  });

  it('Euler raises strength to 1/1000 and steps so that one UNet call runs', () => {
    const s = new EulerScheduler();
    expect(s.fitParams(1, 0)).toEqual({ strength: 0.001, steps: 1000 });
    expect(s.fitParams(1, 0.3)).toEqual({ strength: 0.3, steps: 4 });
    expect(s.fitParams(4, 0.5)).toEqual({ strength: 0.5, steps: 4 });
    expect(s.fitParams(2, 1)).toEqual({ strength: 1, steps: 2 });
  });

  it('every fitted pair of the live range is a schedule the sampler runs, with the fitted step count', () => {
    for (const s of [new LcmScheduler(), new EulerScheduler({ ancestral: false })]) {
      for (let k = 0; k <= 1000; k++) {
        for (let steps = 1; steps <= 8; steps++) {
          const fit = s.fitParams(steps, k / 1000);
          expect(() => s.setTimesteps(fit.steps, fit.strength)).not.toThrow();
          expect(s.steps).toBe(fit.steps);
          expect(s.fitParams(fit.steps, fit.strength)).toEqual(fit); // fitting twice changes nothing
        }
      }
    }
  });
});

describe('Sampler interface', () => {
  it('steps: LCM runs exactly the requested steps, Euler reports the steps it raised to', () => {
    const lcm = new LcmScheduler();
    lcm.setTimesteps(3, 0.6);
    expect(lcm.steps).toBe(3);
    const euler = new EulerScheduler();
    euler.setTimesteps(1, 0.3);
    expect(euler.steps).toBe(4);
    expect(euler.timesteps).toEqual([249]);
  });

  it('only LCM embeds the requested guidance; other samplers run unguided (1)', () => {
    expect(new LcmScheduler().embeddedGuidance(8)).toBe(8);
    expect(new EulerScheduler().embeddedGuidance(8)).toBe(1);
  });

  it('samplerFromConfig builds the scheduler the config names, with its schedule fields', () => {
    const lcm = samplerFromConfig({ _class_name: 'LCMScheduler', original_inference_steps: 10 });
    expect(lcm.name).toBe('lcm');
    expect(lcm.sampler).toBeInstanceOf(LcmScheduler);
    expect((lcm.sampler as LcmScheduler).originalSteps).toBe(10);
    const euler = samplerFromConfig({ _class_name: 'EulerAncestralDiscreteScheduler' });
    expect(euler.name).toBe('euler-ancestral');
    expect((euler.sampler as EulerScheduler).ancestral).toBe(true);
    expect((samplerFromConfig({ _class_name: 'EulerDiscreteScheduler' }).sampler as EulerScheduler).ancestral).toBe(false);
    expect(() => samplerFromConfig({ _class_name: 'LCMScheduler', beta_schedule: 'linear' })).toThrow(/unsupported beta_schedule "linear"/);
  });
});

describe('sampler choice from scheduler_config.json', () => {
  const base = { beta_schedule: 'scaled_linear', prediction_type: 'epsilon' };
  it.each([
    ['LCMScheduler', 'lcm'],
    // SD-Turbo's config: plain Euler, no noise re-injected between steps
    ['EulerDiscreteScheduler', 'euler'],
    ['EulerAncestralDiscreteScheduler', 'euler-ancestral'],
    ['DDIMScheduler', 'euler'],
    ['PNDMScheduler', 'euler'],
    ['DDPMScheduler', 'euler-ancestral'],
  ])('%s → %s', (cls, sampler) => {
    expect(chooseSampler({ ...base, _class_name: cls })).toBe(sampler);
  });

  it('refuses an unknown scheduler class, naming the supported ones', () => {
    expect(() => chooseSampler({ ...base, _class_name: 'TCDScheduler' })).toThrow(/scheduler class "TCDScheduler" is not supported; use a model whose _class_name is one of LCMScheduler, EulerDiscreteScheduler/);
    expect(chooseSampler({ ...base, _class_name: 'TCDScheduler' }, 'lcm')).toBe('lcm');
  });

  it('refuses anything but epsilon prediction, even with a sampler override', () => {
    for (const prediction_type of ['v_prediction', 'sample']) {
      expect(() => chooseSampler({ ...base, _class_name: 'EulerDiscreteScheduler', prediction_type })).toThrow(new RegExp(`prediction_type "${prediction_type}" is not supported`));
      expect(() => chooseSampler({ ...base, _class_name: 'EulerDiscreteScheduler', prediction_type }, 'euler')).toThrow(/not supported/);
    }
    expect(chooseSampler({ _class_name: 'EulerDiscreteScheduler' })).toBe('euler'); // absent = diffusers' default, epsilon
  });
});
