import assert from "node:assert/strict";
import { MediaError, MediaLibrary } from "../lib/media/media_library.ts";
import { readLabFrames, writeLabMjpeg } from "../lib/wire/lab_mjpeg.ts";
import { parseStreamRef } from "../lib/wire/rtsp_url.ts";

const videoFrames = [
  ...readLabFrames(await Deno.readFile(new URL("../video.mjpeg", import.meta.url))),
]
  .map((f) => f.data);

/** A lab MJPEG file of the first `n` sample frames. */
function clip(n: number): Uint8Array {
  return writeLabMjpeg(videoFrames.slice(0, n));
}

/**
 * A temp directory `<tmp>/` with a media directory `<tmp>/media/` inside it
 * (so there is something real just outside the media directory), removed after.
 */
async function withMedia(fn: (media: string, outside: string) => Promise<void>): Promise<void> {
  const outside = await Deno.realPath(await Deno.makeTempDir({ prefix: "media_library_test_" }));
  const media = `${outside}/media`;
  await Deno.mkdir(media);
  try {
    await fn(media, outside);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
}

/** The MediaError `promise` rejects with, checked for its status. */
async function mediaError(promise: Promise<unknown>, status: number): Promise<MediaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof MediaError, `expected MediaError, got ${error}`);
    assert.equal(error.status, status, error.message);
    return error;
  }
  assert.fail(`expected MediaError ${status}, the file was served`);
}

Deno.test("MediaLibrary serves a lab MJPEG file from its directory", async () => {
  await withMedia(async (media) => {
    await Deno.writeFile(`${media}/clip.mjpeg`, clip(3));
    const library = new MediaLibrary(media);
    const source = await library.open("clip.mjpeg");
    assert.equal(source.frames.length, 3);
    source.frames.forEach((f, i) => assert.deepEqual(f, videoFrames[i]));
    assert.equal(source.path, `${media}/clip.mjpeg`);
    assert.equal(await library.open("clip.mjpeg"), source, "loaded once and shared");
  });
});

Deno.test("MediaLibrary shares one load between concurrent opens", async () => {
  await withMedia(async (media) => {
    await Deno.writeFile(`${media}/clip.mjpeg`, clip(2));
    const library = new MediaLibrary(media);
    const [a, b, c] = await Promise.all([
      library.open("clip.mjpeg"),
      library.open("clip.mjpeg"),
      library.open("/clip.mjpeg"),
    ]);
    assert.equal(a, b);
    assert.equal(a, c, "the same file by another spelling");
  });
});

Deno.test("MediaLibrary serves files in subdirectories", async () => {
  await withMedia(async (media) => {
    await Deno.mkdir(`${media}/sub/deeper`, { recursive: true });
    await Deno.writeFile(`${media}/sub/deeper/clip.mjpeg`, clip(4));
    const library = new MediaLibrary(media);
    assert.equal((await library.open("sub/deeper/clip.mjpeg")).frames.length, 4);
    assert.equal((await library.open("sub//deeper/clip.mjpeg")).frames.length, 4);
  });
});

Deno.test("MediaLibrary: a relative root works", async () => {
  // A path to the project root relative to the current directory, whatever that is.
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const up = Deno.cwd().split("/").filter((s) => s !== "").map(() => "..").join("/");
  const library = new MediaLibrary(`${up || "."}${root}`);
  assert.equal((await library.open("video.mjpeg")).frames.length, 200);
});

Deno.test("MediaLibrary: names that lead outside the directory are 404", async () => {
  await withMedia(async (media, outside) => {
    await Deno.writeFile(`${outside}/secret.mjpeg`, clip(1));
    await Deno.writeFile(`${media}/clip.mjpeg`, clip(1));
    const library = new MediaLibrary(media);
    for (
      const name of [
        "../secret.mjpeg",
        "../x",
        "a/../../x",
        "a/../../secret.mjpeg",
        "./clip.mjpeg/../../secret.mjpeg",
        "..",
        "/../secret.mjpeg",
        "sub/..",
        "..\\secret.mjpeg",
        "clip.mjpeg\0",
        "",
        "/",
      ]
    ) {
      const error = await mediaError(library.open(name), 404);
      assert.match(error.message, /^Cannot open/, `message for ${JSON.stringify(name)}`);
    }
  });
});

Deno.test("MediaLibrary: absolute paths are taken inside the directory", async () => {
  await withMedia(async (media, outside) => {
    await Deno.writeFile(`${outside}/secret.mjpeg`, clip(1));
    const library = new MediaLibrary(media);
    await mediaError(library.open("/etc/passwd"), 404);
    await mediaError(library.open(`${outside}/secret.mjpeg`), 404);
    // ... and do serve a file of that name inside the directory.
    await Deno.mkdir(`${media}/etc`);
    await Deno.writeFile(`${media}/etc/passwd`, clip(2));
    assert.equal((await library.open("/etc/passwd")).frames.length, 2);
  });
});

Deno.test("MediaLibrary: percent-encoded traversal is decoded by parseStreamRef, then refused", async () => {
  await withMedia(async (media, outside) => {
    await Deno.writeFile(`${outside}/secret.mjpeg`, clip(1));
    const library = new MediaLibrary(media);
    for (
      const uri of [
        "rtsp://127.0.0.1:554/%2e%2e/secret.mjpeg",
        "rtsp://127.0.0.1:554/%2E%2E%2Fsecret.mjpeg",
        "/a/%2e%2e/%2e%2e/secret.mjpeg",
        "..%2fsecret.mjpeg",
        "%2e%2e%5csecret.mjpeg",
        "rtsp://h/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      ]
    ) {
      const ref = parseStreamRef(uri);
      assert.ok(ref, uri);
      assert.ok(ref.name.includes(".."), `${uri} decodes to ${ref.name}`);
      await mediaError(library.open(ref.name), 404);
    }
  });
});

Deno.test("MediaLibrary: a symlink inside the directory that points outside is 404", async () => {
  await withMedia(async (media, outside) => {
    await Deno.writeFile(`${outside}/secret.mjpeg`, clip(1));
    await Deno.symlink(`${outside}/secret.mjpeg`, `${media}/link.mjpeg`);
    await Deno.symlink("../secret.mjpeg", `${media}/relative_link.mjpeg`);
    await Deno.symlink(outside, `${media}/dirlink`);
    const library = new MediaLibrary(media);
    await mediaError(library.open("link.mjpeg"), 404);
    await mediaError(library.open("relative_link.mjpeg"), 404);
    await mediaError(library.open("dirlink/secret.mjpeg"), 404);
  });
});

Deno.test("MediaLibrary: a symlink that stays inside the directory is served", async () => {
  await withMedia(async (media) => {
    await Deno.writeFile(`${media}/clip.mjpeg`, clip(2));
    await Deno.symlink("clip.mjpeg", `${media}/alias.mjpeg`);
    const library = new MediaLibrary(media);
    assert.equal((await library.open("alias.mjpeg")).frames.length, 2);
  });
});

Deno.test("MediaLibrary: the media directory itself may be a symlink", async () => {
  await withMedia(async (media, outside) => {
    await Deno.writeFile(`${media}/clip.mjpeg`, clip(2));
    await Deno.symlink(media, `${outside}/media_link`);
    const library = new MediaLibrary(`${outside}/media_link`);
    assert.equal((await library.open("clip.mjpeg")).frames.length, 2);
  });
});

Deno.test("MediaLibrary: a missing file, a dangling symlink and a directory are 404", async () => {
  await withMedia(async (media) => {
    await Deno.mkdir(`${media}/dir.mjpeg`);
    await Deno.symlink(`${media}/nowhere.mjpeg`, `${media}/dangling.mjpeg`);
    const library = new MediaLibrary(media);
    const missing = await mediaError(library.open("missing.mjpeg"), 404);
    assert.match(missing.message, /missing\.mjpeg/);
    await mediaError(library.open("dangling.mjpeg"), 404);
    await mediaError(library.open("dir.mjpeg"), 404);
    await mediaError(library.open("nodir/clip.mjpeg"), 404);
  });
});

Deno.test("MediaLibrary: a file that is not lab MJPEG is 415, naming file, frame and offset", async () => {
  await withMedia(async (media) => {
    const good = clip(2);
    const bytes = new Uint8Array([...good, ...new TextEncoder().encode("hello, world")]);
    await Deno.writeFile(`${media}/bad.mjpeg`, bytes);
    await Deno.writeTextFile(`${media}/notes.txt`, "just some text\n");
    const library = new MediaLibrary(media);
    const error = await mediaError(library.open("bad.mjpeg"), 415);
    assert.match(error.message, /bad\.mjpeg/);
    assert.match(error.message, /frame 2/);
    assert.match(error.message, new RegExp(`offset ${good.length}\\b`));
    const text = await mediaError(library.open("notes.txt"), 415);
    assert.match(text.message, /notes\.txt/);
    assert.match(text.message, /frame 0 at byte offset 0/);
  });
});

Deno.test("MediaLibrary: a frame that is not a JPEG is 415 with its frame and offset", async () => {
  await withMedia(async (media) => {
    const bytes = writeLabMjpeg([videoFrames[0], new TextEncoder().encode("nope")]);
    await Deno.writeFile(`${media}/nojpeg.mjpeg`, bytes);
    const library = new MediaLibrary(media);
    const error = await mediaError(library.open("nojpeg.mjpeg"), 415);
    assert.match(error.message, /nojpeg\.mjpeg/);
    assert.match(
      error.message,
      new RegExp(`frame 1 at byte offset ${5 + videoFrames[0].length + 5}`),
    );
  });
});

Deno.test("MediaLibrary reloads a file when it changes", async () => {
  await withMedia(async (media) => {
    const path = `${media}/clip.mjpeg`;
    await Deno.writeFile(path, clip(3));
    const library = new MediaLibrary(media);
    const first = await library.open("clip.mjpeg");
    assert.equal(first.frames.length, 3);
    await Deno.writeFile(path, clip(5));
    const second = await library.open("clip.mjpeg");
    assert.notEqual(second, first);
    assert.equal(second.frames.length, 5);
    assert.equal(await library.open("clip.mjpeg"), second, "and caches the new version");
    assert.equal(first.frames.length, 3, "sessions holding the old version keep it");
  });
});

Deno.test("MediaLibrary: a broken file is not cached; fixing it serves it", async () => {
  await withMedia(async (media) => {
    const path = `${media}/clip.mjpeg`;
    await Deno.writeFile(path, clip(3).subarray(0, 100));
    const library = new MediaLibrary(media);
    await mediaError(library.open("clip.mjpeg"), 415);
    await Deno.writeFile(path, clip(3));
    assert.equal((await library.open("clip.mjpeg")).frames.length, 3);
  });
});

Deno.test("MediaLibrary: a file removed after loading is 404", async () => {
  await withMedia(async (media) => {
    await Deno.writeFile(`${media}/clip.mjpeg`, clip(1));
    const library = new MediaLibrary(media);
    await library.open("clip.mjpeg");
    await Deno.remove(`${media}/clip.mjpeg`);
    await mediaError(library.open("clip.mjpeg"), 404);
  });
});

Deno.test("MediaLibrary: a media directory that does not exist serves nothing (404)", async () => {
  await withMedia(async (_media, outside) => {
    const library = new MediaLibrary(`${outside}/no_such_dir`);
    const error = await mediaError(library.open("clip.mjpeg"), 404);
    assert.match(error.message, /clip\.mjpeg/);
  });
});

Deno.test("MediaLibrary.list() names the regular files at the top, loads nothing, and knows the loaded ones", async () => {
  await withMedia(async (media, outside) => {
    await Deno.writeFile(`${media}/b.mjpeg`, clip(2));
    await Deno.writeFile(`${media}/a.mjpeg`, clip(3));
    await Deno.writeFile(`${media}/notes.txt`, new Uint8Array(4));
    await Deno.mkdir(`${media}/sub.mjpeg`);
    await Deno.writeFile(`${outside}/secret.mjpeg`, clip(1));
    await Deno.symlink(`${outside}/secret.mjpeg`, `${media}/link.mjpeg`);
    const library = new MediaLibrary(media);
    const mjpeg = (name: string) => name.endsWith(".mjpeg");
    const before = await library.list(mjpeg, 10);
    assert.deepEqual(before, {
      files: [
        { name: "a.mjpeg", bytes: clip(3).length },
        { name: "b.mjpeg", bytes: clip(2).length },
      ],
      truncated: false,
    });
    const source = await library.open("a.mjpeg");
    const after = await library.list(mjpeg, 10);
    assert.equal(after.files[0].source, source);
    assert.equal(after.files[1].source, undefined);
    const capped = await library.list(mjpeg, 1);
    assert.equal(capped.files.length, 1);
    assert.equal(capped.truncated, true);
  });
});
