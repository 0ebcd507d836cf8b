/**
 * Many UDP sockets read through one epoll set: the load generator needs a
 * socket (an RTP/RTCP port pair) per session, since GStreamer's server sends
 * once per distinct destination, and a thousand sessions bring ~160,000
 * packets/s. One `epoll_wait` on a blocking thread (Deno FFI `nonblocking`)
 * reports the sockets with datagrams; each is drained with `recvmmsg`
 * ({@linkcode LinuxUdpSocket.receiveNow}) on the main thread. Linux only.
 *
 * @module
 */
import { linuxUdpAvailable, LinuxUdpSocket } from "../lib/net/linux_udp.ts";

const EPOLLIN = 0x001;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CLOEXEC = 0o2000000;
/** struct epoll_event is packed on x86_64 (12 bytes), 16 bytes elsewhere. */
const EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
const MAX_EVENTS = 512;

type Epoll = Deno.DynamicLibrary<{
  epoll_create1: { parameters: ["i32"]; result: "i32" };
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"]; result: "i32" };
  epoll_wait: {
    parameters: ["i32", "buffer", "i32", "i32"];
    result: "i32";
    nonblocking: true;
  };
  close: { parameters: ["i32"]; result: "i32" };
}>;

let library: Epoll | undefined;

function epoll(): Epoll {
  library ??= Deno.dlopen("libc.so.6", {
    epoll_create1: { parameters: ["i32"], result: "i32" },
    epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
    epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
    close: { parameters: ["i32"], result: "i32" },
  });
  return library;
}

/** Whether {@linkcode EpollReceiver} can run here. */
export function epollAvailable(): boolean {
  return Deno.build.os === "linux" && linuxUdpAvailable();
}

/** Called with each datagram (a view valid only during the call) and its arrival time. */
export type DatagramHandler = (data: Uint8Array, at: number) => void;

/** Reads many {@linkcode LinuxUdpSocket}s from one loop. */
export class EpollReceiver {
  readonly #fd: number;
  readonly #sockets = new Map<number, { socket: LinuxUdpSocket; handle: DatagramHandler }>();
  readonly #events = new Uint8Array(MAX_EVENTS * EVENT_BYTES);
  readonly #eventView = new DataView(this.#events.buffer);
  readonly #loop: Promise<void>;
  #closed = false;
  /** Datagrams read and epoll wake-ups, for the generator's own accounting. */
  datagrams = 0;
  wakeups = 0;

  constructor() {
    this.#fd = epoll().symbols.epoll_create1(EPOLL_CLOEXEC);
    if (this.#fd < 0) throw new Error("epoll_create1 failed");
    this.#loop = this.#run();
  }

  /** Bind a socket on 127.0.0.1 (`port` 0: any) and read it into `handle`. */
  bind(port: number, handle: DatagramHandler): LinuxUdpSocket {
    const socket = LinuxUdpSocket.bind({
      hostname: "127.0.0.1",
      port,
      receiveBufferBytes: 1 << 20,
      maxDatagramBytes: 1500,
    });
    const event = new Uint8Array(EVENT_BYTES);
    const view = new DataView(event.buffer);
    view.setUint32(0, EPOLLIN, true);
    view.setUint32(4, socket.fd, true); // data.fd (low half of the 64-bit union)
    if (epoll().symbols.epoll_ctl(this.#fd, EPOLL_CTL_ADD, socket.fd, event) !== 0) {
      void socket.close();
      throw new Error(`epoll_ctl(ADD) failed for fd ${socket.fd}`);
    }
    this.#sockets.set(socket.fd, { socket, handle });
    return socket;
  }

  /** Stop reading `socket` and close it. */
  async remove(socket: LinuxUdpSocket): Promise<void> {
    if (this.#sockets.delete(socket.fd)) {
      epoll().symbols.epoll_ctl(this.#fd, EPOLL_CTL_DEL, socket.fd, new Uint8Array(EVENT_BYTES));
    }
    await socket.close();
  }

  async #run(): Promise<void> {
    const { epoll_wait } = epoll().symbols;
    while (!this.#closed) {
      const n = await epoll_wait(this.#fd, this.#events, MAX_EVENTS, 100);
      if (this.#closed) break;
      if (n <= 0) continue;
      this.wakeups++;
      const at = performance.now();
      for (let i = 0; i < n; i++) {
        const fd = this.#eventView.getUint32(i * EVENT_BYTES + 4, true);
        const entry = this.#sockets.get(fd);
        if (!entry) continue;
        const datagrams = entry.socket.receiveNow(32);
        this.datagrams += datagrams.length;
        for (const d of datagrams) entry.handle(d.data, at);
      }
    }
  }

  /** Stop the loop and close every socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#loop; // epoll_wait returns within its 100 ms timeout
    await Promise.all([...this.#sockets.values()].map(({ socket }) => socket.close()));
    this.#sockets.clear();
    epoll().symbols.close(this.#fd);
  }
}
