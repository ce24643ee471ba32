// docs/protocol.md carries JSON Schemas generated from lib/protocol; this fails when they drift.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/server';

it('docs/protocol.md matches the zod schemas of lib/protocol (else run `npx tsx scripts/protocol-doc.ts`)', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/protocol-doc.ts', '--check'], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
