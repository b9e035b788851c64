import { resolveCloseTimeout } from './options';
import type { CloseOptions } from './types';

/** After the close deadline, how long handing unsettled deliveries back (and leaving) may still take. */
export const HAND_BACK_MS = 1000;

/**
 * The deadline of one graceful close. Every `close(options)` call on the resource sets it; the
 * earliest wins, so a second call with a shorter `timeoutMs` shortens the wait. `passed` resolves
 * once it passes.
 */
export class CloseDeadline {
  private at = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private fire!: () => void;
  /** Resolves when the deadline passes (never, if the close finishes first and {@link dispose} ran). */
  readonly passed = new Promise<void>((resolve) => (this.fire = resolve));
  private isPast = false;

  /** Validates `options` (throws `invalid_argument`) and moves the deadline earlier if it asks for that. */
  set(options: CloseOptions | undefined): void {
    const ms = resolveCloseTimeout(options);
    const at = Date.now() + ms;
    if (this.isPast || at >= this.at) return;
    this.at = at;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.isPast = true;
      this.fire();
    }, ms);
  }

  /** Milliseconds left, 0 once passed. */
  remaining(): number {
    return this.isPast ? 0 : Math.max(0, this.at - Date.now());
  }

  get past(): boolean {
    return this.isPast;
  }

  /** Stops the timer once the close finished. */
  dispose(): void {
    clearTimeout(this.timer);
  }
}

/** Resolves after `ms`, without holding the process open. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
