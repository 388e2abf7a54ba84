import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A sampling heap profile: a tree whose nodes carry the bytes sampled as allocated by their own frame. */
interface HeapNode {
  id: number;
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

/**
 * A V8 .cpuprofile (`node --cpu-prof`, or the phase profiler's) or .heapprofile, as sums of self time in µs (bytes for a
 * heap profile): by function, by package, and for time in Node itself or in native code, by the package and function
 * that called it, since "writev: 15 %" says little until it says whose writes they were.
 */
export interface ProfileSummary {
  isHeap: boolean;
  total: number;
  byFunction: Map<string, number>;
  byPackage: Map<string, number>;
  nativeByCaller: Map<string, number>;
}

/** The package a profile's idle time is counted under: the process waiting for work, not doing any. */
export const IDLE = '(idle)';

export function summarizeProfile(file: string): ProfileSummary {
  const loaded = JSON.parse(readFileSync(file, 'utf8')) as Profile | { head: HeapNode };
  const byId = new Map<number, { callFrame: CallFrame }>();
  const parentOf = new Map<number, number>();
  /** Self time in µs (a CPU profile) or self bytes (a heap profile), by node. */
  const selfAmounts = new Map<number, number>();
  if ('head' in loaded) {
    const visit = (node: HeapNode) => {
      byId.set(node.id, node);
      selfAmounts.set(node.id, node.selfSize);
      for (const child of node.children) {
        parentOf.set(child.id, node.id);
        visit(child);
      }
    };
    visit(loaded.head);
  } else {
    for (const node of loaded.nodes) byId.set(node.id, node);
    for (const node of loaded.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
    loaded.samples.forEach((id, i) => selfAmounts.set(id, (selfAmounts.get(id) ?? 0) + (loaded.timeDeltas[i] ?? 0)));
  }

  /** For time in Node or native code: the nearest frame above it in a package or the service, as `package functionName`. */
  const callerOf = (id: number): string | undefined => {
    const own = byId.get(id)!.callFrame;
    const ownPackage = packageOf(own.url, own.functionName);
    if (ownPackage !== 'node internals' && ownPackage !== '(native / gc / other)') return undefined;
    for (let at = parentOf.get(id); at !== undefined; at = parentOf.get(at)) {
      const { url, functionName } = byId.get(at)!.callFrame;
      const where = packageOf(url, functionName);
      if (where !== 'node internals' && where !== '(native / gc / other)' && !where.startsWith('('))
        return `${where} ${functionName || '(anonymous)'}`;
    }
    return undefined;
  };

  const summary: ProfileSummary = {
    isHeap: 'head' in loaded,
    total: [...selfAmounts.values()].reduce((sum, value) => sum + value, 0),
    byFunction: new Map(),
    byPackage: new Map(),
    nativeByCaller: new Map(),
  };
  const add = (table: Map<string, number>, key: string, amount: number) => table.set(key, (table.get(key) ?? 0) + amount);
  for (const [id, amount] of selfAmounts) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/');
    add(summary.byFunction, `${functionName || '(anonymous)'}  ${where}:${lineNumber + 1}`, amount);
    add(summary.byPackage, packageOf(url, functionName), amount);
    const caller = callerOf(id);
    if (caller) add(summary.nativeByCaller, `${functionName || '(anonymous)'} <- ${caller}`, amount);
  }
  return summary;
}

function packageOf(url: string, functionName: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1]!;
  if (url.includes('/dist/')) return 'service (dist/)';
  if (url.startsWith('node:') || (url !== '' && !url.startsWith('file:'))) return 'node internals';
  return functionName.startsWith('(') ? functionName : '(native / gc / other)';
}
