import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Issue 11, item 29: the reliability tests cited a findings file that was not in the repository
// (by an absolute path of a development machine). The findings now live in docs/reliability.md,
// and every citation must point at a file of the repository.

const root = fileURLToPath(new URL('../..', import.meta.url));
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'coverage', 'reports', '.stryker-tmp', '.tmp', 'api']);
const TEXT = /\.(?:[cm]?[jt]s|json|md|ya?ml|txt)$/;

function textFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) textFiles(join(dir, entry.name), out);
    } else if (TEXT.test(entry.name) && entry.name !== 'package-lock.json') out.push(join(dir, entry.name));
  }
  return out;
}

const files = textFiles(root).map((file) => ({ path: relative(root, file), text: readFileSync(file, 'utf8') }));

describe('citations of the reliability findings', () => {
  it('no file cites an absolute path of a development machine (/home, /Users, /tmp, /work, ...)', () => {
    // An absolute path of a machine, to a notes or findings file (.md): it exists on no other one.
    const machinePath = /(?<![\w.])\/(?:home|Users|tmp|work|root|var|mnt|private)\/[^\s'"`)]*\.md\b/g;
    const found = files.flatMap(({ path, text }) => [...text.matchAll(machinePath)].map((m) => `${path}: ${m[0]}`));
    expect(found).toEqual([]);
  });

  it('every findings or reliability document a file names exists in the repository', () => {
    const cited = /[\w./-]*(?:findings|reliability)[\w-]*\.md\b/g;
    const missing = files.flatMap(({ path, text }) =>
      [...text.matchAll(cited)]
        .map((m) => m[0])
        .filter((name) => !existsSync(join(root, name.replace(/^\.\//, ''))))
        .map((name) => `${path}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it('docs/reliability.md has the suites, the findings F1-F9 and the section for issue 11', () => {
    const doc = readFileSync(join(root, 'docs/reliability.md'), 'utf8');
    for (const suite of ['property', 'Fault injection', 'Burst', 'Soak', 'Bad input', 'Mutation'])
      expect(doc, suite).toContain(suite);
    for (let n = 1; n <= 9; n++) expect(doc).toMatch(new RegExp(`^\\| F${n} \\|`, 'm'));
    expect(doc).toMatch(/^## Issue 11 \(0\.1\.1\)$/m);
  });

  it("the README's Reliability section links docs/reliability.md", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('## Reliability'),
      readme.indexOf('\n## ', readme.indexOf('## Reliability') + 1),
    );
    expect(section).toContain('](docs/reliability.md)');
  });
});
