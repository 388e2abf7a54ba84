/** Student's t at 97.5 % (a two-sided 95 % interval) for 1 to 30 degrees of freedom, at index df - 1. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Past 30 degrees of freedom, the next tabled row down (40, 60, 120), then the normal distribution's. */
function tQuantile(degreesOfFreedom: number): number {
  if (degreesOfFreedom <= T_975.length) return T_975[degreesOfFreedom - 1]!;
  return degreesOfFreedom < 40
    ? 2.042
    : degreesOfFreedom < 60
      ? 2.021
      : degreesOfFreedom < 120
        ? 2.0
        : degreesOfFreedom < 1000
          ? 1.98
          : 1.96;
}

export interface PairedRatio {
  /** The geometric mean of the rounds' ratios, this build's figure over the other's. */
  ratio: number;
  /** The 95 % interval of that mean (Student's t over the rounds' log ratios); none from a single round. */
  interval?: { low: number; high: number };
  /** Whether the interval lies wholly on one side of 1: a difference this many rounds can show. */
  shows: boolean;
}

/**
 * One build's figure over another's, taken round by round: each round measures both, one right after the
 * other, so what the shared machine did to that round it did to both, and the rounds' spread says how far to
 * trust the result. A ratio of medians (each build's median over all rounds) hides that spread: on a busy
 * machine three runs of 10 to 12 rounds, of builds a few µs apart, gave 0.88, 0.97 and 1.11. The order of the
 * two builds should alternate between rounds, so what a round does to whichever runs second falls on each alike.
 */
export function pairedRatio(mine: readonly number[], theirs: readonly number[]): PairedRatio {
  if (mine.length !== theirs.length || mine.length === 0) throw new Error('pairedRatio: one figure of each build per round');
  const logs = mine.map((value, round) => Math.log(value / theirs[round]!));
  const mean = logs.reduce((sum, value) => sum + value, 0) / logs.length;
  if (logs.length < 2) return { ratio: Math.exp(mean), shows: false };
  const variance = logs.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (logs.length - 1);
  const halfWidth = (tQuantile(logs.length - 1) * Math.sqrt(variance)) / Math.sqrt(logs.length);
  const interval = { low: Math.exp(mean - halfWidth), high: Math.exp(mean + halfWidth) };
  return { ratio: Math.exp(mean), interval, shows: interval.high < 1 || interval.low > 1 };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
