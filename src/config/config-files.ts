import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { KNOWN_VARIABLES, SECRET_VARIABLES } from './variables.js';

/** `config/` at the project root, both from `src/config` and from the built `dist/config`. */
export const DEFAULT_CONFIG_DIR = fileURLToPath(new URL('../../config/', import.meta.url));

export interface ConfigFileValues {
  values: Record<string, string>;
  problems: { variable: string; message: string }[];
}

const cache = new Map<string, ConfigFileValues>();

/**
 * Non-secret settings an operator keeps in files: `config/default.yaml`, then `config/<mode>.yaml` over
 * it, both over the table's defaults and under the environment. Keys are the environment variable names,
 * so one table documents both. A secret found in a file is refused: secrets come only from the environment.
 */
export function readConfigFiles(mode: string, dir = DEFAULT_CONFIG_DIR): ConfigFileValues {
  const key = `${dir}\0${mode}`;
  const cached = cache.get(key);
  if (cached) return cached;

  const result: ConfigFileValues = { values: {}, problems: [] };
  for (const file of ['default.yaml', `${mode}.yaml`]) {
    const path = `${dir}/${file}`;
    if (!existsSync(path)) continue;
    let document: unknown;
    try {
      document = parse(readFileSync(path, 'utf8'));
    } catch (error) {
      result.problems.push({
        variable: `config/${file}`,
        message: `config/${file} is not valid YAML (${(error as Error).message.split('\n')[0]})`,
      });
      continue;
    }
    if (document == null) continue;
    if (typeof document !== 'object' || Array.isArray(document)) {
      result.problems.push({ variable: `config/${file}`, message: `config/${file} must be a mapping of VARIABLE: value` });
      continue;
    }
    for (const [name, value] of Object.entries(document as Record<string, unknown>)) {
      if (SECRET_VARIABLES.includes(name)) {
        result.problems.push({
          variable: name,
          message: `${name} must come from the environment, not from config/${file}: it is a secret`,
        });
        continue;
      }
      if (!KNOWN_VARIABLES.has(name) || name === 'NODE_ENV') {
        result.problems.push({ variable: name, message: `${name} in config/${file} is not a setting this service reads` });
        continue;
      }
      if (value === null || value === undefined) continue;
      result.values[name] = Array.isArray(value) ? value.join(',') : String(value);
    }
  }
  cache.set(key, result);
  return result;
}
