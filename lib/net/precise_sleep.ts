/**
 * A sleep with sub-millisecond precision that can be cut short, through
 * Deno's FFI on Linux: `ppoll(2)` on an eventfd, with a nanosecond timeout,
 * on one of Deno's blocking threads. `setTimeout` in Deno wakes 1–2 ms after
 * the time asked for (its timers have millisecond granularity); this wakes
 * within about 0.1–0.3 ms, which is what a 20 fps pacer needs to keep every
 * frame within a millisecond of its schedule. Writing to the eventfd ends a
 * sleep at once, so a sleeper never outlives its owner.
 *
 * @module
 */

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const POLLIN = 0x001;

const SYMBOLS = {
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  ppoll: {
    parameters: ["buffer", "u64", "buffer", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: { libc?: Libc; reason?: string } | undefined;

function load(): { libc?: Libc; reason?: string } {
  if (loaded) return loaded;
  try {
    if (Deno.build.os !== "linux") return loaded = { reason: `not Linux (${Deno.build.os})` };
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return loaded = { reason: "no ffi permission (run with --allow-ffi)" };
    }
    return loaded = { libc: Deno.dlopen("libc.so.6", SYMBOLS).symbols };
  } catch (error) {
    return loaded = { reason: `unavailable (${error instanceof Error ? error.message : error})` };
  }
}

/** Whether {@linkcode PreciseSleep} works here, and why not. */
export function preciseSleepSupport(): { available: boolean; reason?: string } {
  const { libc, reason } = load();
  return libc ? { available: true } : { available: false, reason };
}

/** One sleeper at a time, interruptible. */
export class PreciseSleep {
  readonly #libc: Libc;
  readonly #fd: number;
  /** struct pollfd { int fd; short events; short revents; } */
  readonly #pollfd = new Int32Array(2);
  /** struct timespec { time_t tv_sec; long tv_nsec; } */
  readonly #timespec = new BigInt64Array(2);
  readonly #word = new BigUint64Array(1);
  /** Byte views of the above, as the FFI takes them (made once, not per call). */
  readonly #pollfdBytes = new Uint8Array(this.#pollfd.buffer);
  readonly #timespecBytes = new Uint8Array(this.#timespec.buffer);
  readonly #wordBytes = new Uint8Array(this.#word.buffer);
  #sleeping: Promise<unknown> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @throws {Error} when {@linkcode preciseSleepSupport} says it is not available. */
  constructor() {
    const { libc, reason } = load();
    if (!libc) throw new Error(`Precise sleep is not available: ${reason}`);
    this.#libc = libc;
    this.#fd = libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.#fd < 0) throw new Error("eventfd() failed");
    this.#pollfd[0] = this.#fd;
    this.#pollfd[1] = POLLIN; // events in the low half, revents 0
  }

  /**
   * Sleep `ms` (at most an hour); resolves `true` when the time is up and
   * `false` when {@linkcode interrupt} or {@linkcode close} cut it short
   * (an interrupt that came while no sleep was running ends the next one at
   * once).
   *
   * @throws {Error} (rejects) when a sleep is already running or the sleeper is closed.
   */
  async sleep(ms: number): Promise<boolean> {
    if (this.#closed) throw new Error("PreciseSleep is closed");
    if (this.#sleeping) throw new Error("PreciseSleep.sleep() is already running");
    const ns = BigInt(Math.round(Math.min(Math.max(ms, 0), 3_600_000) * 1e6));
    this.#timespec[0] = ns / 1_000_000_000n;
    this.#timespec[1] = ns % 1_000_000_000n;
    this.#pollfd[1] = POLLIN;
    const call = this.#libc.ppoll(this.#pollfdBytes, 1n, this.#timespecBytes, null);
    this.#sleeping = call;
    let ready: number;
    try {
      ready = await call;
    } finally {
      this.#sleeping = undefined;
    }
    if (ready > 0) {
      if (!this.#closed) this.#libc.read(this.#fd, this.#wordBytes, 8n); // reset the eventfd
      return false;
    }
    // 0: the time is up; -1 (a signal, say): not known to be, so "cut short".
    return ready === 0 && !this.#closed;
  }

  /** End the running sleep now (or the next one, if none is running). */
  interrupt(): void {
    if (this.#closed) return;
    this.#word[0] = 1n;
    this.#libc.write(this.#fd, this.#wordBytes, 8n);
  }

  /** End any sleep and release the eventfd once no thread uses it. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.interrupt();
    this.#closed = true;
    const sleeping = this.#sleeping;
    this.#closing = (async () => {
      await sleeping?.catch(() => {});
      this.#libc.close(this.#fd);
    })();
    return this.#closing;
  }
}
