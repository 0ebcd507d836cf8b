import { LoadSession } from "./_load_session.ts";
const n = Number(Deno.args[0] ?? 250);
const s = Array.from(
  { length: n },
  () => new LoadSession("udp", "rtsp://127.0.0.1:8554/video.mjpeg"),
);
let failed = 0;
for (const x of s) {
  await x.start().catch((e) => {
    if (failed++ === 0) console.log(String(e));
  });
}
await new Promise((r) => setTimeout(r, 7000));
await Promise.all(s.map((x) => x.stop()));
console.log(
  "failed",
  failed,
  "lost",
  s.reduce((a, x) => a + x.record.lost, 0),
  "pkts",
  s.reduce((a, x) => a + x.record.packets, 0),
);
