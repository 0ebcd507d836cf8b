import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import { parseStreamRef } from "../lib/wire/rtsp_url.ts";

Deno.test("parseStreamRef(): * names no stream", () => {
  assert.equal(parseStreamRef("*"), undefined);
});

Deno.test("parseStreamRef(): the lab's bare file name", () => {
  assert.deepEqual(parseStreamRef("video.mjpeg"), { name: "video.mjpeg", form: "bare" });
  assert.deepEqual(parseStreamRef("dir/clip.mjpeg"), { name: "dir/clip.mjpeg", form: "bare" });
});

Deno.test("parseStreamRef(): an absolute path", () => {
  assert.deepEqual(parseStreamRef("/video.mjpeg"), { name: "video.mjpeg", form: "path" });
  assert.deepEqual(parseStreamRef("//dir/clip.mjpeg/"), { name: "dir/clip.mjpeg", form: "path" });
});

Deno.test("parseStreamRef(): rtsp URLs with and without a port", () => {
  assert.deepEqual(parseStreamRef("rtsp://127.0.0.1:8554/video.mjpeg"), {
    name: "video.mjpeg",
    form: "url",
  });
  assert.deepEqual(parseStreamRef("rtsp://example.com/a/b/clip.mjpeg"), {
    name: "a/b/clip.mjpeg",
    form: "url",
  });
  assert.deepEqual(parseStreamRef("rtsp://[::1]:554/video.mjpeg"), {
    name: "video.mjpeg",
    form: "url",
  });
  assert.deepEqual(parseStreamRef("rtsp://user:pw@host:554/video.mjpeg"), {
    name: "video.mjpeg",
    form: "url",
  });
});

Deno.test("parseStreamRef(): the scheme is case-insensitive and rtspu/rtsps are accepted", () => {
  for (const scheme of ["RTSP", "Rtsp", "rtspu", "rtsps"]) {
    assert.deepEqual(parseStreamRef(`${scheme}://h:1/v.mjpeg`), { name: "v.mjpeg", form: "url" });
  }
});

Deno.test("parseStreamRef(): a URL with no path names the empty stream", () => {
  assert.deepEqual(parseStreamRef("rtsp://host:554"), { name: "", form: "url" });
  assert.deepEqual(parseStreamRef("rtsp://host:554/"), { name: "", form: "url" });
});

Deno.test("parseStreamRef(): a track control suffix is split off", () => {
  assert.deepEqual(parseStreamRef("rtsp://h:554/video.mjpeg/trackID=0"), {
    name: "video.mjpeg",
    track: "trackID=0",
    form: "url",
  });
  assert.deepEqual(parseStreamRef("/video.mjpeg/track1"), {
    name: "video.mjpeg",
    track: "track1",
    form: "path",
  });
  assert.deepEqual(parseStreamRef("rtsp://h/video.mjpeg/stream=2"), {
    name: "video.mjpeg",
    track: "stream=2",
    form: "url",
  });
  // Not a track suffix: kept in the name.
  assert.deepEqual(parseStreamRef("rtsp://h/trackID=x/video.mjpeg"), {
    name: "trackID=x/video.mjpeg",
    form: "url",
  });
});

Deno.test("parseStreamRef(): query and fragment are dropped", () => {
  assert.deepEqual(parseStreamRef("rtsp://h:1/video.mjpeg?x=1&y=2"), {
    name: "video.mjpeg",
    form: "url",
  });
  assert.deepEqual(parseStreamRef("/video.mjpeg#frag"), { name: "video.mjpeg", form: "path" });
  assert.deepEqual(parseStreamRef("rtsp://h:1/video.mjpeg/trackID=1?x"), {
    name: "video.mjpeg",
    track: "trackID=1",
    form: "url",
  });
});

Deno.test("parseStreamRef(): names are percent-decoded", () => {
  assert.deepEqual(parseStreamRef("rtsp://h/my%20clip.mjpeg"), {
    name: "my clip.mjpeg",
    form: "url",
  });
  assert.deepEqual(parseStreamRef("caf%C3%A9.mjpeg"), { name: "café.mjpeg", form: "bare" });
  assert.deepEqual(parseStreamRef("/a%2Fb.mjpeg"), { name: "a/b.mjpeg", form: "path" });
});

Deno.test("parseStreamRef(): percent-encoded traversal decodes to the dots (refused later)", () => {
  assert.equal(parseStreamRef("rtsp://h/%2e%2e/%2e%2e/etc/passwd")?.name, "../../etc/passwd");
  assert.equal(parseStreamRef("%2E%2E%2Fsecret")?.name, "../secret");
  assert.equal(parseStreamRef("/a/%2e%2e%2f%2e%2e%2fx")?.name, "a/../../x");
  assert.equal(parseStreamRef("%2e%2e%5cx")?.name, "..\\x");
  assert.equal(parseStreamRef("x%00.mjpeg")?.name, "x\0.mjpeg");
});

Deno.test("parseStreamRef(): bad percent-encoding is a ParseError", () => {
  for (const uri of ["rtsp://h/%zz.mjpeg", "/bad%", "%C3%28.mjpeg", "%E0%A4"]) {
    assert.throws(() => parseStreamRef(uri), (error: unknown) => {
      assert.ok(error instanceof ParseError, `${uri}: ${error}`);
      assert.match(error.message, /percent-encoding/);
      assert.ok(error.message.includes(uri));
      return true;
    });
  }
});

Deno.test("parseStreamRef(): another scheme is a ParseError", () => {
  for (const uri of ["http://h/video.mjpeg", "file:///etc/passwd", "rtmp://h/x"]) {
    assert.throws(() => parseStreamRef(uri), (error: unknown) => {
      assert.ok(error instanceof ParseError, `${uri}: ${error}`);
      assert.match(error.message, /scheme is not rtsp/);
      return true;
    });
  }
});
