/**
 * `deno task demo`: the whole lab system in one command. Starts the server on
 * a free port, plays video.mjpeg with the client at 20 fps to the end, writes
 * every frame into `demo-frames/`, checks them against the file and prints
 * the statistics.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatSummary } from "../lib/session/client/reception_stats.ts";
import { frameFileName } from "../lib/session/client/frame_sink.ts";
import { loadMjpegSource } from "../lib/media/mjpeg_source.ts";
import { RtspServer } from "../lib/session/server/rtsp_server.ts";
import { StreamClient } from "../lib/session/client/stream_client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    out: { type: "string", default: "demo-frames" },
    dialect: { type: "string", default: "lab" },
    fps: { type: "string", default: "20" },
  },
});
const dialect = values.dialect === "rtsp" ? "rtsp" : "lab";
const root = new URL("..", import.meta.url).pathname;
const file = "video.mjpeg";

const server = await RtspServer.start({
  port: 0,
  hostname: "127.0.0.1",
  mediaDir: root,
  fps: Number(values.fps),
  log: (line) => console.error(`  server: ${line}`),
});
console.log(`server: rtsp://127.0.0.1:${server.addr.port}/ serving ${root}`);
await Deno.remove(values.out, { recursive: true }).catch(() => {});
const client = await StreamClient.open({
  host: "127.0.0.1",
  port: server.addr.port,
  rtpPort: 0,
  resource: file,
  dialect,
  outDir: values.out,
});
console.log(
  `client: ${dialect} dialect, RTP on UDP port ${client.receiver.port}, frames into ${values.out}/`,
);
let code = 0;
try {
  await client.setup();
  await client.play();
  await client.receive({ endAfterSec: 1.5, firstPacketTimeoutSec: 10 });
  await client.teardown();
  const summary = client.stats.summary();
  console.log(formatSummary(summary));
  const source = await loadMjpegSource(`${root}${file}`);
  let identical = 0;
  for (let i = 0; i < source.frames.length; i++) {
    const written = await Deno.readFile(`${values.out}/${frameFileName(i + 1)}`).catch(() => null);
    if (
      written && written.length === source.frames[i].length &&
      written.every((b, j) => b === source.frames[i][j])
    ) identical++;
  }
  console.log(
    `check             ${identical} of ${source.frames.length} frames in ${values.out}/ are byte-identical to ${file}`,
  );
  if (identical !== source.frames.length) code = 1;
} catch (error) {
  console.error(`demo: ${error instanceof Error ? error.message : error}`);
  code = 1;
} finally {
  await client.close();
  await server.close();
}
Deno.exit(code);
