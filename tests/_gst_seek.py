#!/usr/bin/python3
"""Play an RTSP URL with GStreamer, seek, and save the JPEGs before and after.

Pipeline: rtspsrc ! rtpjpegdepay ! appsink. Once --seek-after frames have
arrived it seeks the pipeline (seek_simple, TIME, FLUSH plus --flags) to
--seek-to seconds, then stops after --frames frames of the new segment.

Each depayloaded JPEG is written to --out as pre_NNNNN.jpg or post_NNNNN.jpg
(numbered from 0): "post" is a frame of the segment that follows the seek
(a flushing seek ends the old one), "pre" any frame before. One JSON object
per line on stdout says what happened, flushed at once so that the reader can
time it:
    {"event": "frame", "phase": "pre"|"post", "n": N, "stream_time": ns, "pts": ns}
    {"event": "seek", "ok": true|false}
    {"event": "message", "type": "error"|"warning", "text": ...}
    {"event": "done", "reason": "frames"|"eos"|"error"|"lifetime"}

Exits 0 after --frames post-seek frames, 1 on an error message or at EOS
before them, 2 after --lifetime seconds, whichever comes first; and when stdin
is a pipe that reaches end of file (whoever started it is gone).

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
from gi.repository import GLib, Gst  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--protocols", choices=["udp", "tcp"], default="udp")
    parser.add_argument("--latency", type=int, default=100, help="rtspsrc latency, ms")
    parser.add_argument("--seek-after", type=int, default=10, help="frames before the seek")
    parser.add_argument("--seek-to", type=float, default=5.0, help="seconds")
    parser.add_argument(
        "--flags", default="KEY_UNIT", help="seek flags besides FLUSH, e.g. KEY_UNIT or ACCURATE"
    )
    parser.add_argument("--frames", type=int, default=20, help="frames after the seek")
    parser.add_argument("--out", required=True, help="directory for the JPEGs")
    parser.add_argument("--lifetime", type=float, default=20, help="give up after this many s")
    return parser.parse_args()


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    args = parse_args()
    Gst.init(None)
    loop = GLib.MainLoop()
    pipeline = Gst.parse_launch(
        f"rtspsrc name=src location={args.url} protocols={args.protocols} "
        f"latency={args.latency} ! rtpjpegdepay ! "
        "appsink name=sink emit-signals=true sync=false max-buffers=1000"
    )
    flags = Gst.SeekFlags.FLUSH
    for name in filter(None, args.flags.split("|")):
        flags |= getattr(Gst.SeekFlags, name)

    # Written by the streaming thread (frames) and the main loop (seek).
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
        post = state["seeked"] and key != state["old_segment"]
        phase = "post" if post else "pre"
        n = state[phase]
        if n >= (args.frames if post else 100_000):
            return Gst.FlowReturn.OK  # enough: the main loop is quitting
        state[phase] += 1
        with open(os.path.join(args.out, f"{phase}_{n:05d}.jpg"), "wb") as f:
            f.write(data)
        emit(
            event="frame",
            phase=phase,
            n=n,
            pts=buffer.pts,
            stream_time=segment.to_stream_time(Gst.Format.TIME, buffer.pts),
        )
        if not state["seeked"] and state["pre"] == args.seek_after:
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
            finish("eos", 1)

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
