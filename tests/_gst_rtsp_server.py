#!/usr/bin/python3
"""A small GStreamer reference RTSP server for the interop tests.

Serves one finite RTP/JPEG stream (RFC 2435, payload type 26) with GStreamer's
own RTSP server (GstRtspServer) at rtsp://HOST:PORT/MOUNT, with shared media:
either videotestsrc encoded with jpegenc, or a numbered JPEG sequence read
with imagesequencesrc (--jpeg-pattern, e.g. /dir/%05d.jpg), whose bytes
rtpjpegpay sends as they are (quantization tables in-band, Q 255).

The stream is finite (--frames at --fps), so GStreamer sends an RTCP BYE at
its end (rtpsession schedules one on EOS).

Prints "READY <port>" on stdout once listening (--port 0 picks a free port),
and exits on SIGTERM or SIGINT, when stdin is a pipe that reaches end of
file (its parent died), or after --lifetime seconds, whichever comes first.

Runs with Debian's python3 (/usr/bin/python3), since `gi` is a Debian package:
    apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
"""

import argparse
import os
import signal
import stat
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--mount", default="/test", help="mount path, e.g. /test")
    parser.add_argument("--frames", type=int, default=100, help="frames in the stream")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument(
        "--jpeg-pattern",
        help="serve these JPEGs (a printf pattern, e.g. /dir/%%05d.jpg, numbered from 0) "
        "instead of videotestsrc",
    )
    parser.add_argument(
        "--lifetime", type=float, default=120, help="exit after this many seconds anyway"
    )
    args = parser.parse_args()
    if not args.mount.startswith("/"):
        parser.error("--mount must start with /")
    if args.frames < 1 or args.fps < 1:
        parser.error("--frames and --fps must be positive")
    return args


def launch_description(args):
    caps_rate = f"framerate={args.fps}/1"
    if args.jpeg_pattern:
        # imagesequencesrc (the multifile plugin's timestamping sibling of multifilesrc):
        # multifilesrc leaves buffers without timestamps, so the frames would go out at once.
        source = (
            f'imagesequencesrc location="{args.jpeg_pattern}" start-index=0 '
            f"stop-index={args.frames - 1} framerate={args.fps}/1"
        )
    else:
        source = (
            # SMPTE bars scrolling sideways: every frame differs, about 26 kB at 640x480.
            f"videotestsrc num-buffers={args.frames} pattern=smpte horizontal-speed=4 "
            f"! video/x-raw,format=I420,width={args.width},height={args.height},{caps_rate} "
            "! jpegenc quality=85"
        )
    return f"( {source} ! rtpjpegpay name=pay0 pt=26 )"


def main():
    args = parse_args()
    Gst.init(None)
    loop = GLib.MainLoop()

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_description(args))
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr, flush=True)
        sys.exit(1)

    def quit_loop(*_):
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, quit_loop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, quit_loop)
    GLib.timeout_add(int(args.lifetime * 1000), quit_loop)

    def on_stdin(fd, condition):
        if condition & (GLib.IO_HUP | GLib.IO_ERR):
            return quit_loop()
        if not os.read(fd, 4096):  # end of file: whoever started us is gone
            return quit_loop()
        return GLib.SOURCE_CONTINUE

    if stat.S_ISFIFO(os.fstat(0).st_mode):  # a pipe from our parent, not a terminal
        GLib.io_add_watch(0, GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, on_stdin)

    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
