// tldraw loads fonts, icons and translations from its CDN by default; the app must make no
// request to another host, so we serve @tldraw/assets ourselves from public/tldraw-assets.
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const assetsRoot = dirname(require.resolve('@tldraw/assets/package.json'));
const target = join(root, 'public', 'tldraw-assets');
mkdirSync(target, { recursive: true });
for (const dir of ['fonts', 'icons', 'translations', 'embed-icons']) {
  const from = join(assetsRoot, dir);
  if (existsSync(from)) cpSync(from, join(target, dir), { recursive: true });
}
