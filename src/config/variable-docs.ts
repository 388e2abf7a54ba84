import { MODES, type Mode, type Variable, VARIABLES } from './variables.js';

/*
 * `.env.example` and the README's table of variables, written from the table by `npm run config:docs`;
 * variables.spec.ts fails when the committed files differ from what these return.
 */

const SOURCE = 'src/config/variables.ts';
const README_START = '<!-- variables: written by `npm run config:docs` from ' + SOURCE + '; edit the table there, not here -->';
const README_END = '<!-- /variables -->';

export function envExample(): string {
  const lines = [
    '# otp-gateway configuration. Copy to .env and run with `node --env-file=.env dist/main.js`.',
    '# Every value here is a safe placeholder; an empty one is unset, so its default applies (the README lists',
    '# the defaults of each mode). Secrets come only from the environment (never config/*.yaml).',
    `# Written by \`npm run config:docs\` from ${SOURCE}: edit the table there, not this file.`,
  ];
  for (const variable of VARIABLES) {
    if (variable.section) lines.push('', `# ---- ${variable.section} ----`);
    lines.push(...wrap(variable.description, 116).map((line) => `# ${line}`));
    lines.push(`${variable.name}=${variable.example ?? (typeof variable.default === 'string' ? variable.default : '')}`);
  }
  return `${lines.join('\n')}\n`;
}

export function variablesTable(): string {
  const rows = [README_START, '| variable | default | what it sets |', '|---|---|---|'];
  for (const variable of VARIABLES) {
    if (variable.section) rows.push(row(`**${cell(variable.section)}**`, '', ''));
    const kind = variable.secret ? ' (secret)' : variable.url ? ' (URL)' : '';
    rows.push(row(`${code(variable.name)}${kind}`, defaultCell(variable), cell(variable.description)));
  }
  rows.push(README_END);
  return rows.join('\n');
}

/** The README with its table of variables replaced by the table's current one. */
export function readmeWithVariablesTable(readme: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) throw new Error(`README.md has no table of variables between "${README_START}" and "${README_END}"`);
  return readme.slice(0, start) + variablesTable() + readme.slice(end + README_END.length);
}

/** `3000`, or by mode where they differ: `development and test: 127.0.0.1; production: 0.0.0.0`. */
function defaultCell(variable: Variable): string {
  if (variable.default === undefined) return '';
  if (typeof variable.default === 'string') return code(variable.default);
  const byValue = new Map<string, Mode[]>();
  for (const mode of MODES) byValue.set(variable.default[mode], [...(byValue.get(variable.default[mode]) ?? []), mode]);
  return [...byValue].map(([value, modes]) => `${modes.join(' and ')}: ${code(value)}`).join('; ');
}

const row = (...cells: string[]) => `|${cells.map((text) => (text === '' ? ' ' : ` ${text} `)).join('|')}|`;
const code = (value: string) => `\`${value}\``;
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/</g, '&lt;');

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
