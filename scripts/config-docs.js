// npm run config:docs — writes .env.example and the README's table of variables from the table of
// variables (src/config/variables.ts), after a build. src/config/variables.spec.ts fails when the
// committed files differ from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envExample, readmeWithVariablesTable } from '../dist/config/variable-docs.js';

const envFile = fileURLToPath(new URL('../.env.example', import.meta.url));
const readmeFile = fileURLToPath(new URL('../README.md', import.meta.url));

writeFileSync(envFile, envExample());
writeFileSync(readmeFile, readmeWithVariablesTable(readFileSync(readmeFile, 'utf8')));
console.log(`wrote ${envFile} and the table of variables in ${readmeFile}`);
