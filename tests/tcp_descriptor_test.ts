import assert from "node:assert/strict";
import { ipv4Key, sockaddrKey, TcpDescriptors } from "../lib/net/tcp_descriptor.ts";
import { RtspConnection } from "../lib/net/rtsp_connection.ts";

Deno.test("ipv4Key and sockaddrKey: the same key from Deno's address and from the kernel's sockaddr_in", () => {
  assert.equal(ipv4Key({ transport: "tcp", hostname: "127.0.0.1", port: 8080 }), "127.0.0.1:8080");
  assert.equal(ipv4Key({ transport: "tcp", hostname: "::1", port: 554 }), undefined);
  assert.equal(ipv4Key({ transport: "tcp", hostname: "1.2.3.999", port: 1 }), undefined);
  // struct sockaddr_in: family (host order), port (network order), address.
  const sockaddr = new Uint8Array(16);
  sockaddr.set([2, 0, 0x1f, 0x90, 127, 0, 0, 1]);
  assert.equal(sockaddrKey(sockaddr), "127.0.0.1:8080");
  sockaddr[0] = 10; // AF_INET6
  assert.equal(sockaddrKey(sockaddr), undefined);
});

/** TcpDescriptors, or undefined after saying why the test skips (never in CI: it fails there). */
function openOrSkip(): TcpDescriptors | undefined {
  const descriptors = TcpDescriptors.open();
  if (descriptors) return descriptors;
  if (Deno.env.get("CI") === "true") throw new Error("TcpDescriptors must work in CI (Linux, ffi)");
  console.log("SKIPPED TcpDescriptors: not Linux, or no ffi permission");
  return undefined;
}

async function connectedPair(): Promise<[Deno.TcpConn, Deno.TcpConn, Deno.TcpListener]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  return [server, client, listener];
}

async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const n = await conn.read(out.subarray(at));
    if (n === null) throw new Error(`EOF after ${at} of ${length} bytes`);
    at += n;
  }
  return out;
}

Deno.test("TcpDescriptors: writes through a connection's descriptor arrive whole and in order with queued ones", async () => {
  const descriptors = openOrSkip();
  if (!descriptors) return;
  const [server, client, listener] = await connectedPair();
  const [other, otherClient, otherListener] = await connectedPair();
  try {
    const [fd, otherFd] = await Promise.all([
      descriptors.lookup(server),
      descriptors.lookup(other),
    ]);
    assert.ok(fd !== undefined && otherFd !== undefined && fd !== otherFd, `fds ${fd} ${otherFd}`);
    const rtsp = new RtspConnection(server);
    rtsp.useDescriptor(descriptors, fd);
    assert.ok(rtsp.direct);
    // Small writes, then one far larger than the socket buffers (the kernel
    // takes part of it, Deno's write the rest), then small ones that must
    // queue behind it, while the peer has not read yet.
    const parts = [
      new Uint8Array(100).fill(1),
      new Uint8Array(16 << 20).map((_, i) => i % 251),
      new Uint8Array(300).fill(3),
      new Uint8Array(5).fill(4),
    ];
    const writes = parts.map((part) => rtsp.write(part));
    assert.ok(rtsp.pendingWrites > 0, "the large write's rest is queued");
    const total = parts.reduce((sum, part) => sum + part.length, 0);
    const got = await readExactly(client, total);
    await Promise.all(writes);
    let at = 0;
    for (const [i, part] of parts.entries()) {
      assert.deepEqual(got.subarray(at, at + part.length), part, `part ${i} whole and in place`);
      at += part.length;
    }
    assert.equal(rtsp.pendingWrites, 0);
    // The other connection got nothing of it.
    other.close();
    assert.equal(await otherClient.read(new Uint8Array(10)), null);
    rtsp.close();
    assert.equal(rtsp.direct, false, "the descriptor is given up on close");
  } finally {
    descriptors.close();
    client.close();
    otherClient.close();
    listener.close();
    otherListener.close();
  }
});

Deno.test("TcpDescriptors: a connection closed before the lookup is not found; close() ends pending lookups", async () => {
  const descriptors = openOrSkip();
  if (!descriptors) return;
  const [server, client, listener] = await connectedPair();
  const lookup = descriptors.lookup(server);
  server.close();
  client.close();
  listener.close();
  assert.equal(await lookup, undefined, "closed before the lookup was answered");
  const [server2, client2, listener2] = await connectedPair();
  const pending = descriptors.lookup(server2);
  descriptors.close();
  assert.equal(await pending, undefined);
  server2.close();
  client2.close();
  listener2.close();
});
