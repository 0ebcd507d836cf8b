/**
 * Time as the session layer sees it, passed in so tests can control it.
 *
 * @module
 */

/** A timer handle, as returned by {@linkcode Clock.setTimeout}. */
export type TimerHandle = ReturnType<typeof setTimeout>;

/** A monotonic millisecond clock with timers. */
export interface Clock {
  /** Milliseconds from an arbitrary origin; never goes backwards. */
  now(): number;
  /** Call `fn` after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancel a timer; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Unix time (ms) of `now()`'s origin, so that `timeOrigin + now()` is the
   * wall-clock time of the same instant at the same resolution (RTCP sender
   * reports need both from one reading). Absent: `Date.now()` is used.
   */
  readonly timeOrigin?: number;
}

/** The real clock: `performance.now()` and the runtime's timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
  timeOrigin: performance.timeOrigin,
};

/** Resolve after `ms` milliseconds of `clock`. */
export function sleep(ms: number, clock: Clock = realClock): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** Resolve with `promise`'s value, or with `undefined` after `ms` ms; the timer is always cleared. */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  clock: Clock = realClock,
): Promise<T | undefined> {
  let handle: TimerHandle | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    handle = clock.setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    if (handle !== undefined) clock.clearTimeout(handle);
  }
}
