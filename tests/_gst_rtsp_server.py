#!/usr/bin/python3
"""A small GStreamer reference RTSP server for the interop tests.

Serves one finite RTP/JPEG stream (RFC 2435, payload type 26) with GStreamer's
own RTSP server (GstRtspServer) at rtsp://HOST:PORT/MOUNT, with shared media:
either videotestsrc encoded with jpegenc, or a numbered JPEG sequence read
with imagesequencesrc (--jpeg-pattern, e.g. /dir/%05d.jpg), whose bytes
rtpjpegpay sends as they are (quantization tables in-band, Q 255).

The stream is finite (--frames at --fps), so GStreamer sends an RTCP BYE at
its end (rtpsession schedules one on EOS).

With --record DIR it takes a stream instead (RECORD mode, RFC 2326 §10.11:
ANNOUNCE, SETUP with mode=record, RECORD): the RTP/JPEG a publisher sends
is depayloaded (rtpjpegdepay) and each JPEG written as DIR/frame_NNNNN.jpg
(multifilesink, numbered from 0).

With --user NAME:PASSWORD it demands credentials (GstRTSPAuth): Basic,
Digest, or both (--auth); gst-rtsp-server's Digest is MD5 without qop (the
RFC 2069 form) and sends one WWW-Authenticate header per method. With
--tls-cert and --tls-key (PEM files) it speaks RTSP over TLS only (rtsps://).

Prints "READY <port>" on stdout once listening (--port 0 picks a free port),
and exits on SIGTERM or SIGINT, when stdin is a pipe that reaches end of
file (its parent died), or after --lifetime seconds, whichever comes first.

Runs with Debian's python3 (/usr/bin/python3), since `gi` is a Debian package:
    apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
"""

import argparse
import ctypes
import os
import signal
import stat
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import Gio, GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


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
        "--record",
        metavar="DIR",
        help="take a published stream (RECORD mode) and write its JPEGs into DIR",
    )
    parser.add_argument(
        "--lifetime", type=float, default=120, help="exit after this many seconds anyway"
    )
    parser.add_argument(
        "--per-client",
        action="store_true",
        help="one pipeline per client (set_shared(false)) instead of one shared by all",
    )
    parser.add_argument("--user", help="NAME:PASSWORD: demand these credentials")
    parser.add_argument(
        "--auth", choices=["basic", "digest", "both"], default="both", help="with --user"
    )
    parser.add_argument("--tls-cert", help="PEM certificate: serve RTSP over TLS only")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    args = parser.parse_args()
    if args.user is not None and ":" not in args.user:
        parser.error("--user must be NAME:PASSWORD")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if not args.mount.startswith("/"):
        parser.error("--mount must start with /")
    if args.frames < 1 or args.fps < 1:
        parser.error("--frames and --fps must be positive")
    return args


def launch_description(args):
    if args.record:
        # In RECORD mode the pipeline starts at the depayloader: the server feeds it what
        # the publisher's SDP and RTP describe. multifilesink writes one file per buffer,
        # and jpegparse makes each buffer one whole JPEG.
        location = os.path.join(args.record, "frame_%05d.jpg")
        return (
            "( rtpjpegdepay name=depay0 ! jpegparse "
            f'! multifilesink location="{location}" sync=false async=false )'
        )
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


def set_supported_methods_raw(auth, methods):
    """gst_rtsp_auth_set_supported_methods with a bit mask.

    The methods are flags in C, but the introspection data calls the type an
    enum, so PyGObject refuses BASIC | DIGEST: call the C function directly.
    """
    capsule = ctypes.pythonapi.PyCapsule_GetPointer
    capsule.restype = ctypes.c_void_p
    capsule.argtypes = [ctypes.py_object, ctypes.c_char_p]
    lib = ctypes.CDLL("libgstrtspserver-1.0.so.0")
    lib.gst_rtsp_auth_set_supported_methods.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.gst_rtsp_auth_set_supported_methods.restype = None
    lib.gst_rtsp_auth_set_supported_methods(capsule(auth.__gpointer__, None), methods)


def add_auth(server, factory, args):
    """Credentials (--user, --auth) and TLS (--tls-cert, --tls-key) through one GstRTSPAuth.

    A request is let in when its token's role may access and construct the
    factory's media. Without --user every client gets that role (the
    default token), so TLS alone asks for no credentials.
    """
    if args.user is None and args.tls_cert is None:
        return
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    if args.user is None:
        auth.set_default_token(token)
    else:
        name, password = args.user.split(":", 1)
        if args.auth in ("basic", "both"):
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(name, password), token)
        if args.auth in ("digest", "both"):
            auth.add_digest(name, password, token)
        if args.auth == "basic":
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        elif args.auth == "digest":
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        else:
            set_supported_methods_raw(
                auth, int(GstRtsp.RTSPAuthMethod.BASIC) | int(GstRtsp.RTSPAuthMethod.DIGEST)
            )
    if args.tls_cert is not None:
        auth.set_tls_certificate(Gio.TlsCertificate.new_from_files(args.tls_cert, args.tls_key))
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role("user", "media.factory.access", True)
    permissions.add_permission_for_role("user", "media.factory.construct", True)
    factory.set_permissions(permissions)


def main():
    args = parse_args()
    Gst.init(None)
    loop = GLib.MainLoop()

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_description(args))
    if args.record:
        factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
    else:
        factory.set_shared(not args.per_client)
    server.get_mount_points().add_factory(args.mount, factory)
    add_auth(server, factory, args)
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
