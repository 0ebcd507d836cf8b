#!/usr/bin/python3
"""Play an RTSP or RTSPS URL with GStreamer's rtspsrc, with credentials.

Pipeline: rtspsrc ! rtpjpegdepay ! appsink. Each depayloaded JPEG is written
to --out as NNNNN.jpg (numbered from 0). The credentials go to rtspsrc's
user-id and user-pw properties; the password is read from the environment
variable named by --password-env, so that it is on no command line.

Over TLS (rtsps://) the server's certificate is checked against --ca-file:
a GTlsDatabase made from it (Gio.TlsFileDatabase) becomes rtspsrc's
tls-database. Without --ca-file nothing is checked (tls-validation-flags=0).

One JSON object per line on stdout says what happened, flushed at once:
    {"event": "frame", "n": N}
    {"event": "message", "type": "error"|"warning", "text": ...}
    {"event": "done", "reason": "frames"|"eos"|"error"|"lifetime"|"stdin closed"}

Exits 0 after --frames frames or at EOS, 1 on an error message, 2 after
--lifetime seconds, whichever comes first; and when stdin is a pipe that
reaches end of file (whoever started it is gone).

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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--protocols", choices=["udp", "tcp"], default="tcp")
    parser.add_argument("--latency", type=int, default=200, help="rtspsrc latency, ms")
    parser.add_argument("--user", help="user-id")
    parser.add_argument("--password-env", help="the environment variable holding user-pw")
    parser.add_argument("--ca-file", help="PEM CA certificates for rtsps:// (tls-database)")
    parser.add_argument("--frames", type=int, required=True, help="stop after this many")
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

    state = {"frames": 0, "exit": None}

    def finish(reason, code):
        if state["exit"] is None:
            state["exit"] = code
            emit(event="done", reason=reason)
            loop.quit()
        return GLib.SOURCE_REMOVE

    def on_sample(sink):
        sample = sink.emit("pull-sample")
        buffer = sample.get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.ERROR
        data = bytes(info.data)
        buffer.unmap(info)
        n = state["frames"]
        if n >= args.frames:
            return Gst.FlowReturn.OK  # enough: the main loop is quitting
        state["frames"] += 1
        with open(os.path.join(args.out, f"{n:05d}.jpg"), "wb") as f:
            f.write(data)
        emit(event="frame", n=n)
        if state["frames"] == args.frames:
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
            finish("eos", 0)

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
