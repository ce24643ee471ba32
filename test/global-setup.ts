// Prepares what the tests run against: the tiny random-weight models (generated in the real
// diffusers/Optimum layouts) and a fresh production build of the web app for browser tests.
// @ts-expect-error plain .mjs helper shared with npm start
import { ensureBuild } from '../scripts/ensure-build.mjs';
import { ensureTinyModels } from '../models/tiny/ensure';
import { TINY_MODELS_DIR } from './helpers/server';

export default async function setup() {
  // Generates the models that are missing or were written by an older generator.
  await ensureTinyModels(TINY_MODELS_DIR);
  if (process.env.LC_SKIP_BUILD !== '1') ensureBuild();
}
