/**
 * The RTSP methods the server implements (RFC 2326 §10), each with the
 * session states it is valid in (Appendix A): the connection checks the
 * table before a handler runs, and answers 455 naming the valid states
 * otherwise. One file per method under `methods/`.
 *
 * @module
 */
import type { RtspResponse } from "../../wire/rtsp_message.ts";
import { announce } from "./methods/announce.ts";
import { describe } from "./methods/describe.ts";
import { getParameter, setParameter } from "./methods/parameter.ts";
import { options } from "./methods/options.ts";
import { pause } from "./methods/pause.ts";
import { play } from "./methods/play.ts";
import { record } from "./methods/record.ts";
import { setup } from "./methods/setup.ts";
import { teardown } from "./methods/teardown.ts";
import type { RequestContext } from "./server_context.ts";
import type { SessionState } from "./server_session.ts";

/** How a method treats the Session header. */
export type SessionUse =
  /** The method does not look at it (DESCRIBE). */
  | "none"
  /** If it names a session, that session must exist on the connection and be in a valid state. */
  | "optional"
  /** It must name a session (454 otherwise). */
  | "required";

/** One row of the table. */
export interface MethodSpec {
  session: SessionUse;
  /** The states a named session may be in; empty: the method takes no session. */
  states: readonly SessionState[];
  handle(context: RequestContext): RtspResponse | Promise<RtspResponse>;
}

const ANY: readonly SessionState[] = ["ready", "playing", "recording"];

/** Method × state: what each method needs before its handler runs. */
export const METHODS: Readonly<Record<string, MethodSpec>> = {
  OPTIONS: { session: "optional", states: ANY, handle: options },
  DESCRIBE: { session: "none", states: [], handle: describe },
  // A SETUP naming a session would change its transport or add a stream: not supported.
  SETUP: { session: "optional", states: [], handle: setup },
  PLAY: { session: "required", states: ["ready", "playing"], handle: play },
  PAUSE: { session: "required", states: ["playing", "recording"], handle: pause },
  // Publishing (RFC 2326 §10.3, §10.11): ANNOUNCE claims a path, SETUP with
  // mode=record makes the publisher's session, RECORD starts taking its RTP.
  ANNOUNCE: { session: "none", states: [], handle: announce },
  RECORD: { session: "required", states: ["ready", "recording"], handle: record },
  TEARDOWN: { session: "required", states: ANY, handle: teardown },
  GET_PARAMETER: { session: "optional", states: ANY, handle: getParameter },
  SET_PARAMETER: { session: "optional", states: ANY, handle: setParameter },
};

/** Methods the server implements, in the order OPTIONS lists them (`Public`). */
export const SERVER_METHODS: readonly string[] = Object.keys(METHODS);
