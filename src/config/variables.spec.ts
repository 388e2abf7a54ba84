import { readFileSync } from 'node:fs';
import { VARIABLES } from './variables.js';

const listedIn = (file: string) =>
  new Set(
    readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
      .split('\n')
      .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
      .filter(Boolean),
  );

describe('the variable table', () => {
  it('is what .env.example lists, no more and no less', () => {
    expect([...listedIn('.env.example')].sort()).toEqual(VARIABLES.map((v) => v.name).sort());
  });

  it('gives .env.example a comment above every variable', () => {
    const lines = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (/^[A-Z][A-Z0-9_]*=/.test(line)) expect({ line, above: lines[index - 1]?.startsWith('# ') }).toEqual({ line, above: true });
    });
  });
});
