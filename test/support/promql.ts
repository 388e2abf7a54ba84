/**
 * Just enough PromQL reading to check alert rules and dashboard queries against what GET /metrics
 * serves: the metric names an expression selects, and the label names each selector matches on.
 * Function and aggregation names, keywords, grouping lists, strings, durations and Grafana variables
 * are not metric names.
 */

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'atan2',
]);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;

export interface Selector {
  metric: string;
  /** Label names its matchers name (`{result="failed", route!~"…"}` → result, route). */
  labels: string[];
}

/** Grafana's `label_values(metric, label)` template query selects `metric` alone. */
function unwrapGrafanaQuery(expression: string): string {
  const labelValues = /^\s*label_values\(\s*(.+?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/.exec(expression);
  return labelValues ? labelValues[1]! : expression;
}

export function selectors(expression: string): Selector[] {
  const found: Selector[] = [];
  // Strings first (a regex in a matcher may hold anything), then ranges, grouping lists and label sets.
  const strings: string[] = [];
  let text = unwrapGrafanaQuery(expression).replace(/"(\\.|[^"\\])*"|'(\\.|[^'\\])*'|`[^`]*`/g, (literal) => {
    strings.push(literal);
    return '""';
  });
  text = text.replace(/\[[^\]]*\]/g, ' ').replace(GROUPING, ' ');
  const identifier = /(?<![\w$.:])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (const match of text.matchAll(identifier)) {
    const [, name, labelSet, call] = match;
    if (call !== undefined || KEYWORDS.has(name!.toLowerCase())) continue;
    const labels = labelSet ? [...labelSet.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((m) => m[1]!) : [];
    found.push({ metric: name!, labels });
  }
  // A bare label set (`{__name__="x"}`) is not used here; an expression without any selector is suspect.
  return found;
}

/** Metric families served, with the label names seen on their samples (histograms' series folded in). */
export function exposition(text: string): Map<string, Set<string>> {
  const families = new Map<string, { type: string; labels: Set<string> }>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (type) families.set(type[1]!, { type: type[2]!, labels: new Set() });
  }
  const served = new Map<string, Set<string>>();
  for (const [name, family] of families) {
    served.set(name, family.labels);
    if (family.type === 'histogram' || family.type === 'summary') {
      for (const suffix of ['_sum', '_count', ...(family.type === 'histogram' ? ['_bucket'] : [])])
        served.set(`${name}${suffix}`, family.labels);
    }
  }
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? /.exec(line);
    if (!sample || line.startsWith('#')) continue;
    const labels = served.get(sample[1]!);
    for (const [, label] of (sample[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels?.add(label!);
  }
  return served;
}
