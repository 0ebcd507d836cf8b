/**
 * Deno (since 2.9.2) opens V8's inspector on 127.0.0.1:9229 when its process
 * receives SIGUSR1, for every program, and offers no flag to stop it: any
 * local process that can reach that port could then attach and run code
 * inside the server, with its permissions. This sets SIGUSR1 to ignored
 * (libc `signal(2)` through the FFI) once the runtime has installed its
 * handler (Deno 2.9.6 does so about half a second after it starts, over
 * whatever was there), and checks with `sigaction(2)` that the kernel now
 * discards it.
 *
 * @module
 */

const SIGUSR1 = 10;
/** `SIG_DFL` and `SIG_IGN`: the handler values for the default action and for discarding. */
const SIG_DFL = 0n;
const SIG_IGN = 1n;
/** How often to look whether the runtime has installed its handler, ms. */
const POLL_MS = 5;

const SYMBOLS = {
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
  // int sigaction(int signum, const struct sigaction *act, struct sigaction *oldact)
  sigaction: { parameters: ["i32", "pointer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Bytes of glibc's struct sigaction on 64-bit Linux (handler first), with room to spare. */
const SIGACTION_BYTES = 256;

/** Whether SIGUSR1 no longer reaches the runtime, and why not when it still does. */
export interface InspectorSignalState {
  /** True when the kernel discards SIGUSR1 for this process. */
  closed: boolean;
  /** Why it could not be closed. */
  reason?: string;
}

/** The handler the kernel has for `signal` in this process (sigaction(2) with no new action). */
function handlerOf(library: Deno.DynamicLibrary<typeof SYMBOLS>, signal: number): bigint {
  const old = new BigUint64Array(SIGACTION_BYTES / 8);
  if (library.symbols.sigaction(signal, null, old) !== 0) {
    throw new Error(`sigaction(${signal}) failed`);
  }
  return old[0]; // sa_handler
}

/**
 * Whether the kernel discards `signal` for this process (its handler is
 * SIG_IGN). Throws without Linux or the ffi permission.
 */
export function signalIgnored(signal = SIGUSR1): boolean {
  const library = Deno.dlopen("libc.so.6", SYMBOLS);
  try {
    return handlerOf(library, signal) === SIG_IGN;
  } finally {
    library.close();
  }
}

/** Options for {@linkcode closeInspectorSignal}. */
export interface CloseInspectorSignalOptions {
  /**
   * How long to wait for the runtime to install its SIGUSR1 handler before
   * setting SIGUSR1 to ignored anyway, ms. @default {3000}
   */
  waitMs?: number;
  /** How long to keep checking that nothing installs a handler again, ms. @default {1000} */
  holdMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Make SIGUSR1 ignored, so that it can no longer open the inspector: wait
 * for the runtime to install its handler, replace it with SIG_IGN, and check
 * for a while that it holds. Never rejects: without Linux or the ffi
 * permission it says why it could not.
 */
export async function closeInspectorSignal(
  options: CloseInspectorSignalOptions = {},
): Promise<InspectorSignalState> {
  if (Deno.build.os !== "linux") return { closed: false, reason: `not Linux (${Deno.build.os})` };
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { closed: false, reason: "no ffi permission (run with --allow-ffi)" };
  }
  let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
  try {
    library = Deno.dlopen("libc.so.6", SYMBOLS);
    const ignore = library.symbols.signal;
    const waitUntil = performance.now() + (options.waitMs ?? 3000);
    while (handlerOf(library, SIGUSR1) === SIG_DFL && performance.now() < waitUntil) {
      await sleep(POLL_MS);
    }
    ignore(SIGUSR1, Deno.UnsafePointer.create(SIG_IGN));
    const holdUntil = performance.now() + (options.holdMs ?? 1000);
    while (performance.now() < holdUntil) {
      await sleep(POLL_MS * 10);
      if (handlerOf(library, SIGUSR1) !== SIG_IGN) {
        ignore(SIGUSR1, Deno.UnsafePointer.create(SIG_IGN));
      }
    }
    return handlerOf(library, SIGUSR1) === SIG_IGN
      ? { closed: true }
      : { closed: false, reason: "SIGUSR1 is still handled after signal(2)" };
  } catch (error) {
    return { closed: false, reason: `${error instanceof Error ? error.message : error}` };
  } finally {
    library?.close();
  }
}
