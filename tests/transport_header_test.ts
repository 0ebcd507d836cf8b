import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import {
  parseTransport,
  serializeTransport,
  type TransportSpec,
} from "../lib/wire/transport_header.ts";
import { catchError } from "./_helpers.ts";

Deno.test("parseTransport() reads standard and lab Transport headers", async (t) => {
  const cases: [string, TransportSpec[]][] = [
    ["RTP/AVP;unicast;client_port=5008-5009", [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: true,
      clientPort: { start: 5008, end: 5009 },
      extra: [],
    }]],
    ["RTP/AVP/UDP;unicast;client_port=5000-5001", [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: true,
      clientPort: { start: 5000, end: 5001 },
      extra: [],
    }]],
    ["RTP/AVP/TCP;unicast;interleaved=0-1", [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "TCP",
      unicast: true,
      interleaved: { start: 0, end: 1 },
      extra: [],
    }]],
    ["RTP/UDP; client_port= 5008", [{
      protocol: "RTP",
      lowerTransport: "UDP",
      unicast: true,
      clientPort: { start: 5008 },
      extra: [],
    }]],
    ["RTP/TCP;interleaved=4", [{
      protocol: "RTP",
      lowerTransport: "TCP",
      unicast: true,
      interleaved: { start: 4 },
      extra: [],
    }]],
    ["rtp/avp ; Unicast ; CLIENT_PORT = 5008 - 5009", [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: true,
      clientPort: { start: 5008, end: 5009 },
      extra: [],
    }]],
    ["RTP/AVP;unicast;client_port=5008-5009;server_port=6970-6971;ssrc=1a2B3c4D", [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: true,
      clientPort: { start: 5008, end: 5009 },
      serverPort: { start: 6970, end: 6971 },
      ssrc: 0x1a2b3c4d,
      extra: [],
    }]],
    ["RTP/AVP;unicast;ssrc=FFFFFFFF", [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: true,
      ssrc: 0xffffffff,
      extra: [],
    }]],
    ["RTP/AVP;multicast;destination=224.2.0.1;port=3456-3457;ttl=16", [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: false,
      destination: "224.2.0.1",
      port: { start: 3456, end: 3457 },
      ttl: 16,
      extra: [],
    }]],
    ['RTP/AVP;unicast;source=10.0.0.1;mode="PLAY";append;x-foo=bar', [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: true,
      source: "10.0.0.1",
      mode: "PLAY",
      extra: ["append", "x-foo=bar"],
    }]],
    ["RTP/AVP;unicast;;client_port=1-1;", [{
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: true,
      clientPort: { start: 1, end: 1 },
      extra: [],
    }]],
  ];
  for (const [input, expected] of cases) {
    await t.step(input, () => assert.deepEqual(parseTransport(input), expected));
  }
});

Deno.test("parseTransport() splits comma-separated specifications in order", () => {
  const specs = parseTransport(
    "RTP/AVP/TCP;unicast;interleaved=0-1, RTP/AVP;unicast;client_port=5000-5001,RTP/UDP;client_port=5008",
  );
  assert.equal(specs.length, 3);
  assert.equal(specs[0].lowerTransport, "TCP");
  assert.deepEqual(specs[0].interleaved, { start: 0, end: 1 });
  assert.equal(specs[1].lowerTransport, "UDP");
  assert.equal(specs[1].profile, "AVP");
  assert.deepEqual(specs[1].clientPort, { start: 5000, end: 5001 });
  assert.equal(specs[2].profile, undefined);
  assert.deepEqual(specs[2].clientPort, { start: 5008 });
});

Deno.test("parseTransport() throws ParseError for garbage and bad numbers", async (t) => {
  const cases = [
    "",
    "   ",
    "garbage",
    "RTP",
    "RTP/",
    "/AVP",
    "RTP/AVP/UDP/EXTRA",
    "RTP/AV P;unicast",
    "RTP/AVP;client_port=",
    "RTP/AVP;client_port",
    "RTP/AVP;client_port=abc",
    "RTP/AVP;client_port=5008-",
    "RTP/AVP;client_port=-5008",
    "RTP/AVP;client_port=65536",
    "RTP/AVP;client_port=5008-65536",
    "RTP/AVP;client_port=5009-5008",
    "RTP/AVP;client_port=123456",
    "RTP/AVP;client_port=5008-5009-5010",
    "RTP/AVP;server_port=x",
    "RTP/AVP;multicast;port=x",
    "RTP/AVP/TCP;interleaved=256",
    "RTP/AVP/TCP;interleaved=0-256",
    "RTP/AVP/TCP;interleaved=a-b",
    "RTP/AVP;ssrc=",
    "RTP/AVP;ssrc=xyz",
    "RTP/AVP;ssrc=123456789",
    "RTP/AVP;ttl=256",
    "RTP/AVP;ttl=-1",
    "RTP/AVP;ttl=ten",
    "RTP/AVP;unicast,",
    "RTP/AVP;unicast,garbage",
  ];
  for (const input of cases) {
    await t.step(JSON.stringify(input), () => {
      const error = catchError(() => parseTransport(input), ParseError);
      assert.match(error.message, /^Cannot parse Transport/);
    });
  }
});

Deno.test("parseTransport() reports the offset of the specification that is bad", () => {
  const first = "RTP/AVP;unicast";
  const error = catchError(
    () => parseTransport(`${first},RTP/AVP;client_port=nope`),
    ParseError,
  );
  assert.equal(error.offset, first.length + 1);
  assert.equal(catchError(() => parseTransport("RTP/AVP;client_port=x"), ParseError).offset, 0);
});

Deno.test("serializeTransport() writes loose input in canonical form", async (t) => {
  const cases: [string, string][] = [
    ["RTP/AVP;unicast;client_port=5008-5009", "RTP/AVP;unicast;client_port=5008-5009"],
    ["rtp/avp ; unicast ; client_port = 5008 - 5009", "RTP/AVP;unicast;client_port=5008-5009"],
    ["RTP/AVP/UDP;unicast;client_port=5000-5001", "RTP/AVP;unicast;client_port=5000-5001"],
    ["RTP/AVP;client_port=5000-5001", "RTP/AVP;unicast;client_port=5000-5001"],
    ["RTP/AVP/TCP;unicast;interleaved=0-1", "RTP/AVP/TCP;unicast;interleaved=0-1"],
    ["RTP/AVP/TCP;interleaved= 2 - 3", "RTP/AVP/TCP;unicast;interleaved=2-3"],
    ["RTP/UDP; client_port= 5008", "RTP/UDP;unicast;client_port=5008"],
    ["RTP/TCP;interleaved=0", "RTP/TCP;unicast;interleaved=0"],
    // A profile that reads as a lower transport keeps all three parts (found by the fuzzer).
    ["RTP/UDP/UDP;client_port=5000", "RTP/UDP/UDP;unicast;client_port=5000"],
    ["RTP/TCP/UDP;client_port=5000", "RTP/TCP/UDP;unicast;client_port=5000"],
    [
      "RTP/AVP;ssrc=1a2b3c4d;server_port=6970-6971;client_port=5008-5009;unicast",
      "RTP/AVP;unicast;client_port=5008-5009;server_port=6970-6971;ssrc=1A2B3C4D",
    ],
    ["RTP/AVP;unicast;ssrc=1", "RTP/AVP;unicast;ssrc=00000001"],
    [
      "RTP/AVP;multicast;ttl=16;port=3456-3457;destination=224.2.0.1",
      "RTP/AVP;multicast;destination=224.2.0.1;ttl=16;port=3456-3457",
    ],
    [
      'RTP/AVP;unicast;mode="PLAY";source=10.0.0.1;append',
      "RTP/AVP;unicast;source=10.0.0.1;mode=PLAY;append",
    ],
  ];
  for (const [input, expected] of cases) {
    await t.step(input, () => {
      const [spec] = parseTransport(input);
      const canonical = serializeTransport(spec);
      assert.equal(canonical, expected);
      // Canonical output is a fixed point.
      assert.equal(serializeTransport(parseTransport(canonical)[0]), canonical);
      assert.deepEqual(parseTransport(canonical)[0], spec);
    });
  }
});

Deno.test("serializeTransport() writes a spec built in code", () => {
  const spec: TransportSpec = {
    protocol: "RTP",
    profile: "AVP",
    lowerTransport: "UDP",
    unicast: true,
    clientPort: { start: 5008, end: 5009 },
    serverPort: { start: 6970, end: 6971 },
    ssrc: 0xdeadbeef,
    extra: [],
  };
  assert.equal(
    serializeTransport(spec),
    "RTP/AVP;unicast;client_port=5008-5009;server_port=6970-6971;ssrc=DEADBEEF",
  );
});

// --- Session --------------------------------------------------------------------------------------
