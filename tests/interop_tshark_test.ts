/**
 * Wireshark's dissectors check our server on the wire: tshark captures on
 * `lo` while ffmpeg plays video.mjpeg from our server, once over RTP/UDP and
 * once over RTSP/TCP interleaved, and then reads the capture back with the
 * RTSP, RTP, RTCP and RTP/JPEG (RFC 2435) dissectors.
 *
 * Nothing may be malformed or an expert-info error
 * (`_ws.malformed || _ws.expert.severity >= error`), and the capture must
 * hold what a correct session has: RTSP requests and 200 replies, RTP with
 * payload type 26 whose JPEG main header has the file's type and size (every
 * frame's last packet marked), RTCP sender reports (PT 200) and a BYE
 * (PT 203); over TCP all of it inside interleaved frames on the RTSP port.
 *
 * The capture filter only lets through our server's RTSP port, its RTP/RTCP
 * port pair and (UDP) ffmpeg's client ports, chosen with `-min_port` and
 * `-max_port`. Capturing is bounded (`-a duration:`) and tshark is stopped
 * (SIGINT, then SIGKILL) once ffmpeg is done.
 *
 * Needs tshark (Debian package `tshark`; preseed
 * `wireshark-common/install-setuid` to false for a non-interactive install)
 * able to capture on `lo`, which takes root (or CAP_NET_RAW), and ffmpeg.
 * Without them each test prints "SKIPPED: ..." and passes, except in CI
 * (`CI=true`), where it fails.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { requirePeer, runCommand, tail } from "./_peers.ts";
import { startServer, type TestServer } from "./_server.ts";
import { linuxUdpAvailable } from "../lib/net/linux_udp.ts";
import type { UdpSendMode } from "../lib/net/udp_port_pair.ts";

const VIDEO = "video.mjpeg";
/** video.mjpeg: 200 frames of 384x288 4:2:0 JPEG (RFC 2435 type 1; tshark shows pixels). */
const FRAMES = 200;
const JPEG_TYPE = "1";
const WIDTH = "384";
const HEIGHT = "288";
const FPS = 100;
const decoder = new TextDecoder();

async function havePeers(): Promise<boolean> {
  // `-i lo -L` opens the interface: it fails where capturing is not allowed.
  return await requirePeer("tshark", ["-i", "lo", "-L"]) &&
    await requirePeer("ffmpeg", ["-hide_banner", "-version"]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An even UDP port whose odd neighbour is free too (on all addresses, where ffmpeg binds). */
function freePortPair(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = Deno.listenDatagram({ hostname: "0.0.0.0", port: 0, transport: "udp" });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const base = port - (port % 2);
    try {
      const a = Deno.listenDatagram({ hostname: "0.0.0.0", port: base, transport: "udp" });
      const b = Deno.listenDatagram({ hostname: "0.0.0.0", port: base + 1, transport: "udp" });
      a.close();
      b.close();
      return base;
    } catch {
      // taken meanwhile; try another
    }
  }
  throw new Error("Cannot find two adjacent free UDP ports");
}

/**
 * Capture on `lo` with `filter` into `file` while `run` runs: tshark is
 * started, given time to attach its filter, and stopped (SIGINT, SIGKILL
 * 5 s later) half a second after `run` ends; `-a duration:` bounds it
 * anyway.
 *
 * @returns tshark's stderr.
 */
async function captureWhile(
  filter: string,
  file: string,
  run: () => Promise<void>,
): Promise<string> {
  const child = new Deno.Command("tshark", {
    args: ["-i", "lo", "-f", filter, "-a", "duration:30", "-q", "-w", file],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
  })();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const kill = (signal: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(signal);
    } catch { /* it exited meanwhile */ }
  };
  try {
    const deadline = performance.now() + 10_000;
    while (!/Capturing on/.test(stderr)) {
      if (exited || performance.now() > deadline) {
        throw new Error(`tshark did not start capturing on lo:\n${tail(stderr)}`);
      }
      await sleep(20);
    }
    await sleep(300); // the message comes as capturing starts; let the filter settle
    await run();
    await sleep(500); // packets still in flight (the BYE, the last replies)
  } finally {
    kill("SIGINT");
    const killer = setTimeout(() => kill("SIGKILL"), 5000);
    await status.finally(() => clearTimeout(killer));
    await reading;
  }
  return stderr;
}

/** Dissector options: our RTSP port as RTSP, the server's port pair as RTP and RTCP. */
function decodeAs(server: TestServer): string[] {
  const rtp = server.server.rtpPort;
  return [
    ...["-d", `tcp.port==${server.port},rtsp`],
    ...["-d", `udp.port==${rtp},rtp`],
    ...["-d", `udp.port==${rtp + 1},rtcp`],
  ];
}

/** What `tshark -r` found; every field as tshark printed it (comma-joined occurrences). */
interface Dissected {
  frame: number;
  protocols: string;
  method: string;
  status: string;
  channel: string;
  rtpType: string;
  marker: string;
  jpegType: string;
  jpegWidth: string;
  jpegHeight: string;
  rtcpTypes: string[];
  tcpSrc: string;
  udpSrc: string;
}

const FIELDS = [
  "frame.number",
  "frame.protocols",
  "rtsp.method",
  "rtsp.status",
  "rtsp.channel",
  "rtp.p_type",
  "rtp.marker",
  "jpeg.main_hdr.type",
  "jpeg.main_hdr.width",
  "jpeg.main_hdr.height",
  "rtcp.pt",
  "tcp.srcport",
  "udp.srcport",
];

/** Read `file` back and return one record per frame (only the fields of FIELDS). */
async function dissect(file: string, server: TestServer): Promise<Dissected[]> {
  const result = await runCommand("tshark", [
    ...["-r", file, ...decodeAs(server), "-T", "fields"],
    ...["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"],
    ...FIELDS.flatMap((f) => ["-e", f]),
  ], { timeoutMs: 30_000 });
  assert.ok(result.success, `tshark -r failed: status ${result.code}: ${tail(result.stderr)}`);
  return decoder.decode(result.stdout).split("\n").filter((line) => line !== "").map((line) => {
    const v = line.split("\t");
    return {
      frame: Number(v[0]),
      protocols: v[1] ?? "",
      method: v[2] ?? "",
      status: v[3] ?? "",
      channel: v[4] ?? "",
      rtpType: v[5] ?? "",
      marker: v[6] ?? "",
      jpegType: v[7] ?? "",
      jpegWidth: v[8] ?? "",
      jpegHeight: v[9] ?? "",
      rtcpTypes: (v[10] ?? "").split(",").filter((t) => t !== ""),
      tcpSrc: v[11] ?? "",
      udpSrc: v[12] ?? "",
    };
  });
}

/** The frames Wireshark finds malformed or flags with an expert-info error (tshark's summary lines). */
async function problems(file: string, server: TestServer): Promise<string> {
  const result = await runCommand("tshark", [
    ...["-r", file, ...decodeAs(server)],
    ...["-Y", "_ws.malformed || _ws.expert.severity >= error"],
  ], { timeoutMs: 30_000 });
  assert.ok(result.success, `tshark -r -Y failed: status ${result.code}: ${tail(result.stderr)}`);
  return decoder.decode(result.stdout);
}

/** Play video.mjpeg with ffmpeg over `transport` while capturing, then check the capture. */
async function playAndDissect(transport: "udp" | "tcp"): Promise<void> {
  if (!await havePeers()) return;
  const dir = await Deno.makeTempDir({ prefix: `interop_tshark_${transport}_` });
  try {
    // Not GSO: a capture on loopback sees a GSO message as the one large
    // packet the kernel hands the device (receivers get the datagrams apart).
    await using server = await startServer({
      fps: FPS,
      udpSendMode: preferBatchedWithoutGso(),
    });
    const rtp = server.server.rtpPort;
    const clientPort = transport === "udp" ? freePortPair() : undefined;
    const filter = [
      `tcp port ${server.port}`,
      `udp port ${rtp}`,
      `udp port ${rtp + 1}`,
      ...clientPort === undefined ? [] : [`udp port ${clientPort}`, `udp port ${clientPort + 1}`],
    ].join(" or ");
    const file = join(dir, `${transport}.pcapng`);
    const url = server.url(VIDEO);
    let ffmpegContext = "";
    const captureLog = await captureWhile(filter, file, async () => {
      const result = await runCommand("ffmpeg", [
        ...["-nostdin", "-hide_banner", "-v", "error", "-rtsp_transport", transport],
        ...clientPort === undefined
          ? []
          : ["-min_port", String(clientPort), "-max_port", String(clientPort + 1)],
        ...["-i", url, "-frames:v", String(FRAMES), "-f", "null", "-"],
      ], { timeoutMs: 20_000 });
      ffmpegContext = `ffmpeg -rtsp_transport ${transport} ${url}: status ${result.code}` +
        `${result.timedOut ? " (killed after 20 s)" : ""}, ${result.ms} ms\n--- stderr\n${
          tail(result.stderr)
        }\n--- server log\n${tail(server.logText())}`;
      assert.ok(result.success, `ffmpeg failed: ${ffmpegContext}`);
      assert.equal(result.stderr, "", `ffmpeg printed errors: ${ffmpegContext}`);
    });
    const context = `${ffmpegContext}\n--- tshark (capture: ${filter})\n${tail(captureLog, 5)}`;
    assert.doesNotMatch(
      captureLog,
      /\b[1-9]\d* packets? dropped/,
      `capture dropped packets: ${context}`,
    );

    assert.equal(await problems(file, server), "", `malformed or erroneous frames: ${context}`);

    const frames = await dissect(file, server);
    const requests = frames.filter((f) => f.method !== "");
    const methods = new Set(requests.map((f) => f.method));
    for (const method of ["DESCRIBE", "SETUP", "PLAY", "TEARDOWN"]) {
      assert.ok(
        methods.has(method),
        `no RTSP ${method} in the capture: ${[...methods]}\n${context}`,
      );
    }
    // ffmpeg sends TEARDOWN without waiting for the reply and closes the connection; over
    // TCP the unread interleaved data makes that close a reset, so the reply may never leave.
    const replies = frames.filter((f) => f.status !== "").flatMap((f) => f.status.split(","));
    const answerable = requests.filter((f) => f.method !== "TEARDOWN").length;
    assert.ok(
      replies.length >= answerable && replies.length <= requests.length,
      `${replies.length} replies to ${requests.length} requests: ${context}`,
    );
    assert.ok(replies.every((s) => s === "200"), `replies ${replies.join(" ")}: ${context}`);

    // RTP/JPEG: every packet of ours is PT 26 with the file's JPEG type and size.
    const jpeg = frames.filter((f) => f.rtpType.split(",").includes("26"));
    // Over TCP one captured segment carries a whole turn's interleaved packets.
    const rtpPackets = jpeg.flatMap((f) => f.rtpType.split(",")).filter((t) => t === "26");
    assert.ok(rtpPackets.length > FRAMES, `${rtpPackets.length} RTP/JPEG packets: ${context}`);
    const odd = jpeg.filter((f) =>
      f.jpegType.split(",").some((t) => t !== JPEG_TYPE) ||
      f.jpegWidth.split(",").some((w) => w !== WIDTH) ||
      f.jpegHeight.split(",").some((h) => h !== HEIGHT) || f.jpegType === ""
    );
    assert.deepEqual(
      odd.slice(0, 5).map((f) => `#${f.frame} ${f.jpegType} ${f.jpegWidth}x${f.jpegHeight}`),
      [],
      `RTP/JPEG main headers other than type ${JPEG_TYPE}, ${WIDTH}x${HEIGHT}: ${context}`,
    );
    const marked = jpeg.flatMap((f) => f.marker.split(",")).filter((m) =>
      m === "1" || m === "True"
    );
    assert.equal(marked.length, FRAMES, `frames ended by a marked packet: ${context}`);

    // RTCP from the server: sender reports and a BYE.
    const rtcp = frames.filter((f) => f.rtcpTypes.length > 0);
    const fromServer = rtcp.filter((f) =>
      transport === "tcp" ? f.tcpSrc === String(server.port) : f.udpSrc === String(rtp + 1)
    );
    const types = new Set(fromServer.flatMap((f) => f.rtcpTypes));
    assert.ok(types.has("200"), `no RTCP SR from the server: ${[...types]}\n${context}`);
    assert.ok(types.has("203"), `no RTCP BYE from the server: ${[...types]}\n${context}`);

    if (transport === "tcp") {
      // Everything rides the RTSP connection, RTP and RTCP as interleaved frames.
      assert.ok(
        frames.every((f) => f.udpSrc === ""),
        `UDP in a TCP-interleaved session: ${context}`,
      );
      assert.ok(
        jpeg.every((f) => f.tcpSrc === String(server.port) && f.channel !== ""),
        `RTP outside interleaved frames: ${context}`,
      );
      assert.ok(
        fromServer.every((f) => f.channel !== ""),
        `RTCP outside interleaved frames: ${context}`,
      );
    } else {
      assert.ok(
        jpeg.every((f) => f.udpSrc === String(rtp)),
        `RTP from a port other than server_port ${rtp}: ${context}`,
      );
      assert.ok(
        frames.some((f) => f.udpSrc === String(clientPort! + 1) && f.rtcpTypes.includes("201")),
        `no receiver report from ffmpeg's RTCP port ${clientPort! + 1}: ${context}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("tshark dissects ffmpeg playing our server over RTP/UDP: clean RTSP, RTP/JPEG, RTCP SR and BYE", async () => {
  await playAndDissect("udp");
});

Deno.test("tshark dissects ffmpeg playing our server over RTSP/TCP interleaved: clean, RTP and RTCP inside RTSP", async () => {
  await playAndDissect("tcp");
});

/** sendmmsg where the batched path is available, else the portable sends. */
function preferBatchedWithoutGso(): UdpSendMode {
  return linuxUdpAvailable() ? "sendmmsg" : "portable";
}
