// Keeps the code readable as a newcomer meets it: no source file outside test/ over 400 lines, and
// no function over 80 lines where the render path lives (lib/diffusion/, server/render/). Function
// lengths come from a real parser (Babel's, with its TypeScript plugin: TypeScript 7 ships no JS
// API), so arrow functions and methods count too.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from '@babel/parser';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCE_DIRS = ['app', 'bench', 'lib', 'models', 'scripts', 'server'];
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;
const FUNCTION_DIRS = ['lib/diffusion', 'server/render'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules' && name !== 'local') out.push(...sourceFiles(path));
    } else if (/\.(ts|tsx|mjs|js)$/.test(name)) {
      out.push(path);
    }
  }
  return out;
}

const lineCount = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'ClassMethod', 'ClassPrivateMethod', 'ObjectMethod']);

interface AstNode {
  type: string;
  loc?: { start: { line: number }; end: { line: number } };
  key?: { name?: string };
  id?: { name?: string } | null;
  [k: string]: unknown;
}

function longFunctions(path: string): string[] {
  const ast = parse(readFileSync(path, 'utf8'), { sourceType: 'module', plugins: ['typescript', 'jsx'] }) as unknown as AstNode;
  const found: string[] = [];
  const visit = (node: AstNode) => {
    if (FUNCTION_TYPES.has(node.type) && node.loc) {
      const lines = node.loc.end.line - node.loc.start.line + 1;
      const name = node.key?.name ?? node.id?.name ?? '(anonymous)';
      if (lines > MAX_FUNCTION_LINES) found.push(`${relative(ROOT, path)}:${node.loc.start.line} ${name} (${lines} lines)`);
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === 'loc' || !v || typeof v !== 'object') continue;
      for (const child of Array.isArray(v) ? v : [v]) if (child && typeof (child as AstNode).type === 'string') visit(child as AstNode);
    }
  };
  visit(ast);
  return found;
}

describe('code size', () => {
  it(`no source file outside test/ is over ${MAX_FILE_LINES} lines`, () => {
    const long = SOURCE_DIRS.flatMap((d) => sourceFiles(join(ROOT, d)))
      .map((p) => ({ p: relative(ROOT, p), n: lineCount(readFileSync(p, 'utf8')) }))
      .filter(({ n }) => n > MAX_FILE_LINES)
      .map(({ p, n }) => `${p} (${n} lines)`);
    expect(long).toEqual([]);
  });

  it(`no function in ${FUNCTION_DIRS.join(' or ')} is over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = FUNCTION_DIRS.flatMap((d) => sourceFiles(join(ROOT, d))).flatMap(longFunctions);
    expect(long).toEqual([]);
  });
});
