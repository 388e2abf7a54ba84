import { readFileSync } from 'node:fs';
import { envExample, readmeWithVariablesTable } from './variable-docs.js';
import { defaultOf, MODES, VARIABLES } from './variables.js';

const committed = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

const listedIn = (file: string) =>
  new Set(
    committed(file)
      .split('\n')
      .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
      .filter(Boolean),
  );

describe('the variable table', () => {
  it('is what .env.example lists, no more and no less', () => {
    expect([...listedIn('.env.example')].sort()).toEqual(VARIABLES.map((v) => v.name).sort());
  });

  it('gives .env.example a comment above every variable', () => {
    const lines = committed('.env.example').split('\n');
    lines.forEach((line, index) => {
      if (/^[A-Z][A-Z0-9_]*=/.test(line)) expect({ line, above: lines[index - 1]?.startsWith('# ') }).toEqual({ line, above: true });
    });
  });

  it('has defaults and placeholders that pass their own format, in every mode', () => {
    for (const variable of VARIABLES) {
      const values = [...MODES.map((mode) => defaultOf(variable, mode)), variable.example].filter((value) => value !== undefined);
      for (const value of values)
        expect({ name: variable.name, value, problem: variable.format.problem(value) }).toEqual({
          name: variable.name,
          value,
          problem: undefined,
        });
    }
  });

  it('feeds each configuration field from one variable at most', () => {
    const fed = VARIABLES.flatMap((v) => (v.feeds ? [v.feeds] : []));
    expect(fed.filter((path, index) => fed.indexOf(path) !== index)).toEqual([]);
  });

  it('holds no default for a secret: secrets come only from the environment', () => {
    expect(VARIABLES.filter((v) => v.secret && v.default !== undefined).map((v) => v.name)).toEqual([]);
  });
});

describe('the documents written from the table (npm run config:docs)', () => {
  it('.env.example is as written', () => {
    expect(committed('.env.example')).toBe(envExample());
  });

  it("the README's table of variables is as written", () => {
    const readme = committed('README.md');
    expect(readme).toBe(readmeWithVariablesTable(readme));
  });
});
