/**
 * The client's URL: rtsp:// and rtsps:// with their default ports, userinfo
 * percent-decoded, request URIs without it, and a password never shown.
 */
import assert from "node:assert/strict";
import {
  type ClientUrl,
  displayUrl,
  parseClientUrl,
  redactUrl,
} from "../lib/session/client/client_url.ts";
import { catchError } from "./_helpers.ts";

const URLS: [string, ClientUrl][] = [
  ["rtsp://host/cam", { scheme: "rtsp", host: "host", port: 554, uri: "rtsp://host/cam" }],
  ["rtsps://host/cam", { scheme: "rtsps", host: "host", port: 322, uri: "rtsps://host/cam" }],
  [
    "RTSP://127.0.0.1:8554/video.mjpeg/trackID=0",
    {
      scheme: "rtsp",
      host: "127.0.0.1",
      port: 8554,
      uri: "RTSP://127.0.0.1:8554/video.mjpeg/trackID=0",
    },
  ],
  [
    "rtsp://name:pa%40ss@host:8554/cam",
    {
      scheme: "rtsp",
      host: "host",
      port: 8554,
      uri: "rtsp://host:8554/cam",
      username: "name",
      password: "pa@ss",
    },
  ],
  [
    // A raw "@" and ":" in the password: the last "@" ends the userinfo, the first ":" the name.
    "rtsps://n%C3%A4me:p:a@ss@[::1]:8322/a%20b?x=1",
    {
      scheme: "rtsps",
      host: "::1",
      port: 8322,
      uri: "rtsps://[::1]:8322/a%20b?x=1",
      username: "näme",
      password: "p:a@ss",
    },
  ],
  [
    "rtsp://name@host:8554",
    { scheme: "rtsp", host: "host", port: 8554, uri: "rtsp://host:8554", username: "name" },
  ],
  [
    "rtsp://name:@host/",
    {
      scheme: "rtsp",
      host: "host",
      port: 554,
      uri: "rtsp://host/",
      username: "name",
      password: "",
    },
  ],
];

Deno.test("parseClientUrl() reads scheme, host, port and userinfo, and strips the userinfo", async (t) => {
  for (const [url, expected] of URLS) {
    await t.step(url, () => assert.deepEqual(parseClientUrl(url), expected));
  }
});

Deno.test("parseClientUrl() refuses bad URLs without showing the password", async (t) => {
  const cases: [string, RegExp][] = [
    ["http://host/cam", /expected rtsp:\/\/ or rtsps:\/\//],
    ["rtsp:///cam", /no host/],
    ["rtsp://name:secret@:554/cam", /no host/],
    ["rtsp://name:secret@host:0/cam", /port must be from 1 to 65535/],
    ["rtsp://name:secret@host:70000/cam", /port must be from 1 to 65535/],
    ["rtsp://name:secret@host:x/cam", /no host/],
    ["rtsp://name:sec%zzret@host/cam", /bad percent-encoding/],
  ];
  for (const [url, message] of cases) {
    await t.step(url, () => {
      const error = catchError(() => parseClientUrl(url), TypeError);
      assert.match(error.message, message);
      assert.ok(!/secret|sec%zz/.test(error.message), error.message);
    });
  }
});

Deno.test("redactUrl() and displayUrl() never show a password", () => {
  assert.equal(redactUrl("rtsp://name:pa%40ss@host:8554/cam"), "rtsp://name@host:8554/cam");
  assert.equal(redactUrl("rtsps://name:p:a@ss@host/cam"), "rtsps://name@host/cam");
  assert.equal(redactUrl("rtsp://host/cam"), "rtsp://host/cam");
  assert.equal(redactUrl("video.mjpeg"), "video.mjpeg");
  assert.equal(redactUrl("http://u:secret@x/"), "http://u@x/");
  assert.equal(displayUrl("rtsp://host:8554/cam", "na me"), "rtsp://na%20me@host:8554/cam");
  assert.equal(displayUrl("rtsp://host:8554/cam"), "rtsp://host:8554/cam");
  assert.equal(displayUrl("rtsp://a:secret@host/cam", "a"), "rtsp://a@host/cam");
  assert.equal(displayUrl("video.mjpeg", "a"), "video.mjpeg");
});
