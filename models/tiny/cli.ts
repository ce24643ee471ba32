// npm run models:tiny -- [--out dir] [--only name]
import { Command } from 'commander';
import { resolve } from 'node:path';
import { generateTinyModel } from './generate';
import { TINY_VARIANTS, tinyVariant } from './variants';

const program = new Command()
  .name('models:tiny')
  .description('Write the random-weight tiny test models in the real diffusers/Optimum ONNX layouts')
  .option('--out <dir>', 'output folder (one sub-folder per model)', 'models/local')
  .option('--only <name>', `generate just one of: ${TINY_VARIANTS.map((v) => v.name).join(', ')}`)
  .action(async (opts: { out: string; only?: string }) => {
    const out = resolve(opts.out);
    const variants = opts.only ? [tinyVariant(opts.only)] : TINY_VARIANTS;
    for (const v of variants) {
      const started = performance.now();
      const dir = await generateTinyModel(v, out);
      console.log(`${v.name}: ${dir} (${Math.round(performance.now() - started)} ms)`);
    }
  });

program.parseAsync().catch((err: Error) => {
  console.error(`models:tiny: ${err.message}`);
  process.exit(1);
});
