import { longestGap, median, type SoakLedger } from './ledger';

/** When one restart command ran (milliseconds since the send phase started). */
export interface RestartTiming {
  /** 1, 2, ... */
  readonly index: number;
  /** The command was launched. */
  readonly startedAtMs: number;
  /** The command exited (for `scripts/brokers restart`: the broker serves again). */
  readonly returnedAtMs: number;
  /** Whether it exited 0. */
  readonly ok: boolean;
  /** Its error output, when it failed. */
  readonly error?: string;
}

/** One restart and how the run came back from it. */
export interface RestartResult extends RestartTiming {
  /** How long the command ran (`returnedAtMs - startedAtMs`). */
  readonly commandMs: number;
  /**
   * Time to resume: from the moment the command returned to the first delivery of any message
   * whose first send began at or after that moment. Undefined when no such message was received
   * (see `resumed`).
   */
  readonly resumeMs: number | undefined;
  /**
   * Receive gap: the longest time without any delivery (to any consumer, duplicates included) around
   * the restart, from the last delivery before the command started to the resume (not resumed: the
   * run's end; not measured: the first delivery once the command returned).
   */
  readonly gapMs: number;
  /**
   * true: resumed. false: messages were sent after the restart but none of them arrived (a failure).
   * undefined: nothing was sent after it (the send phase had ended), so resumption was not measured.
   */
  readonly resumed: boolean | undefined;
}

/** Max and median of the restarts that have a value. */
export interface Spread {
  readonly max: number | undefined;
  readonly median: number | undefined;
}

/** Resume time and receive gap of each restart, from the ledger at the end of the run (`endMs`). */
export function restartResults(timings: readonly RestartTiming[], ledger: SoakLedger, endMs: number): RestartResult[] {
  return timings.map((t) => {
    const firstAfter = ledger.firstReceiptOfSentSince(t.returnedAtMs);
    const resumeMs = firstAfter === undefined ? undefined : firstAfter - t.returnedAtMs;
    const resumed = firstAfter !== undefined ? true : ledger.sentSince(t.returnedAtMs) ? false : undefined;
    const gapMs = longestGap(ledger.deliveryTimes(), t.startedAtMs, firstAfter ?? (resumed === false ? endMs : t.returnedAtMs), endMs);
    return { ...t, commandMs: t.returnedAtMs - t.startedAtMs, resumeMs, gapMs, resumed };
  });
}

/** Max and median of `pick` over the restarts where it is defined. */
export function spread(restarts: readonly RestartResult[], pick: (r: RestartResult) => number | undefined): Spread {
  const values = restarts.map(pick).filter((v): v is number => v !== undefined);
  return { max: values.length ? Math.max(...values) : undefined, median: median(values) };
}
