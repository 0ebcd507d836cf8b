#!/usr/bin/python3
"""Play an RTSP or RTSPS URL with GStreamer's rtspsrc, optionally seek, save the JPEGs.

The interop tests' GStreamer client, as a program of its own so that each
test can watch it from the outside: interop_seek_test.ts seeks with it while
a proxy records the requests, interop_auth_test.ts plays with credentials
and TLS with it.

Pipeline: rtspsrc ! rtpjpegdepay ! appsink. Each depayloaded JPEG is written
to --out, numbered from 0, and the program stops after --frames of them.

With --seek-to it seeks: once --seek-after frames have arrived, it seeks the
pipeline (seek_simple, TIME, FLUSH plus --seek-flags) to --seek-to seconds,
and --frames then counts the frames of the new segment only. The JPEGs are
then pre_NNNNN.jpg or post_NNNNN.jpg: "post" is a frame of the segment that
follows the seek (a flushing seek ends the old one), "pre" any frame before.
Without --seek-to they are NNNNN.jpg.

Credentials go to rtspsrc's user-id (--user) and user-pw properties; the
password is read from the environment variable named by --password-env, so
that it is on no command line. Over TLS (rtsps://) the server's certificate
is checked against --ca-file: a GTlsDatabase made from it
(Gio.TlsFileDatabase) becomes rtspsrc's tls-database. Without --ca-file
nothing is checked (tls-validation-flags=0).

One JSON object per line on stdout says what happened, flushed at once so
that the reader can time it ("phase" only with --seek-to):
    {"event": "frame", "phase": "pre"|"post", "n": N, "pts": ns, "stream_time": ns}
    {"event": "seek", "ok": true|false}
    {"event": "message", "type": "error"|"warning", "text": ...}
    {"event": "done", "reason": "frames"|"eos"|"error"|"lifetime"|"stdin closed"}

Exits 0 after --frames frames; at EOS, 0 without --seek-to and 1 with it (the
frames after the seek never came); 1 on an error message or a failed seek; 2
after --lifetime seconds, whichever comes first; and 2 when stdin is a pipe
that reaches end of file (whoever started it is gone).

Runs with Debian's python3 (/usr/bin/python3), since `gi` is a Debian package:
    apt-get install python3-gi gstreamer1.0-plugins-good gstreamer1.0-rtsp
"""

import argparse
import json
import os
import stat
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gio, GLib, Gst  # noqa: E402

# Frames kept before a seek at the most: a bound, not a number anyone waits for.
MAX_PRE = 100_000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--protocols", choices=["udp", "tcp"], default="tcp")
    parser.add_argument("--latency", type=int, default=200, help="rtspsrc latency, ms")
    parser.add_argument(
        "--frames", type=int, required=True, help="stop after this many (after the seek)"
    )
    parser.add_argument("--out", required=True, help="directory for the JPEGs")
    parser.add_argument("--lifetime", type=float, default=20, help="give up after this many s")
    seek = parser.add_argument_group("seeking")
    seek.add_argument("--seek-to", type=float, help="seek to this many seconds")
    seek.add_argument("--seek-after", type=int, default=10, help="frames before the seek")
    seek.add_argument(
        "--seek-flags",
        default="KEY_UNIT",
        help="seek flags besides FLUSH, joined with |, e.g. KEY_UNIT or ACCURATE",
    )
    auth = parser.add_argument_group("credentials and TLS")
    auth.add_argument("--user", help="user-id")
    auth.add_argument("--password-env", help="the environment variable holding user-pw")
    auth.add_argument("--ca-file", help="PEM CA certificates for rtsps:// (tls-database)")
    return parser.parse_args()


def emit(**fields):
    print(json.dumps(fields), flush=True)


def make_pipeline(args):
    pipeline = Gst.parse_launch(
        f"rtspsrc name=src protocols={args.protocols} latency={args.latency} ! "
        "rtpjpegdepay ! appsink name=sink emit-signals=true sync=false max-buffers=1000"
    )
    src = pipeline.get_by_name("src")
    src.set_property("location", args.url)
    if args.user is not None:
        src.set_property("user-id", args.user)
    if args.password_env is not None:
        src.set_property("user-pw", os.environ[args.password_env])
    if args.ca_file is not None:
        src.set_property("tls-database", Gio.TlsFileDatabase.new(args.ca_file))
    elif args.url.startswith("rtsps://"):
        src.set_property("tls-validation-flags", Gio.TlsCertificateFlags(0))
    return pipeline


def main():
    args = parse_args()
    Gst.init(None)
    loop = GLib.MainLoop()
    pipeline = make_pipeline(args)
    seeking = args.seek_to is not None
    flags = Gst.SeekFlags.FLUSH
    for name in filter(None, args.seek_flags.split("|")):
        flags |= getattr(Gst.SeekFlags, name)

    # Written by the streaming thread (frames) and the main loop (seek). Without
    # a seek every frame counts as "post": it counts towards --frames.
    state = {"pre": 0, "post": 0, "seeked": False, "old_segment": None, "exit": None}

    def finish(reason, code):
        if state["exit"] is None:
            state["exit"] = code
            emit(event="done", reason=reason)
            loop.quit()
        return GLib.SOURCE_REMOVE

    def seek():
        state["seeked"] = True
        ok = pipeline.seek_simple(Gst.Format.TIME, flags, int(args.seek_to * Gst.SECOND))
        emit(event="seek", ok=bool(ok))
        if not ok:
            finish("error", 1)
        return GLib.SOURCE_REMOVE

    def on_sample(sink):
        sample = sink.emit("pull-sample")
        buffer = sample.get_buffer()
        segment = sample.get_segment()
        key = (segment.start, segment.time, segment.base)
        ok, info = buffer.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.ERROR
        data = bytes(info.data)
        buffer.unmap(info)
        post = not seeking or (state["seeked"] and key != state["old_segment"])
        phase = "post" if post else "pre"
        n = state[phase]
        if n >= (args.frames if post else MAX_PRE):
            return Gst.FlowReturn.OK  # enough: the main loop is quitting
        state[phase] += 1
        name = f"{phase}_{n:05d}.jpg" if seeking else f"{n:05d}.jpg"
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        emit(
            event="frame",
            **({"phase": phase} if seeking else {}),
            n=n,
            pts=buffer.pts,
            stream_time=segment.to_stream_time(Gst.Format.TIME, buffer.pts),
        )
        if seeking and not state["seeked"] and state["pre"] == args.seek_after:
            state["old_segment"] = key
            GLib.idle_add(seek)
        if post and state["post"] == args.frames:
            GLib.idle_add(finish, "frames", 0)
        return Gst.FlowReturn.OK

    def on_message(_bus, message):
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            emit(event="message", type="error", text=f"{error.message} ({debug})")
            finish("error", 1)
        elif message.type == Gst.MessageType.WARNING:
            warning, debug = message.parse_warning()
            emit(event="message", type="warning", text=f"{warning.message} ({debug})")
        elif message.type == Gst.MessageType.EOS:
            finish("eos", 1 if seeking else 0)

    pipeline.get_by_name("sink").connect("new-sample", on_sample)
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    GLib.timeout_add(int(args.lifetime * 1000), finish, "lifetime", 2)

    def on_stdin(fd, condition):
        if condition & (GLib.IO_HUP | GLib.IO_ERR) or not os.read(fd, 4096):
            return finish("stdin closed", 2)
        return GLib.SOURCE_CONTINUE

    if stat.S_ISFIFO(os.fstat(0).st_mode):  # a pipe from our parent, not a terminal
        GLib.io_add_watch(0, GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, on_stdin)

    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)  # rtspsrc sends TEARDOWN
    sys.exit(state["exit"] if state["exit"] is not None else 1)


if __name__ == "__main__":
    main()
