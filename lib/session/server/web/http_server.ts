/**
 * The server's web side: a small HTTP server (`Deno.serve`) in the same
 * process, made only when an HTTP port is asked for.
 *
 * | path                     | answer                                                          |
 * | ------------------------ | --------------------------------------------------------------- |
 * | `/`                      | the status page (`status_page.ts`)                              |
 * | `/status.json`           | {@linkcode RtspServer.status} as JSON                           |
 * | `/metrics`               | the Prometheus exposition (`metrics.ts`)                        |
 * | `/live/<file>[?t=SEC]`   | the file as a live MJPEG stream (`live_view.ts`)                |
 * | `/snapshot/<file>?t=SEC` | one JPEG (`snapshot.ts`)                                        |
 * | `/live/<path>`           | a publisher's live path, as it arrives (`t` may only be 0)      |
 * | `/snapshot/<path>`       | the latest frame of a live path (`t` ignored)                   |
 *
 * Its limits: GET and HEAD only (405), the same users as RTSP (401), names
 * resolved as RTSP resolves them (a live path on the air, else a file inside
 * the media directory only; 404 otherwise), a cap on the
 * requests in progress (503; a live view is one while it plays), live views
 * counted under the session limit (503). Errors are logged, one line each,
 * as are live views starting and ending; the status polls are not.
 *
 * @module
 */
import { MediaError } from "../../../media/media_library.ts";
import { RequestCounts } from "../request_counts.ts";
import { RtspError } from "../rtsp_error.ts";
import { InvalidRangeError, type ServedStream } from "../served_stream.ts";
import type { ServerContext } from "../server_context.ts";
import type { HttpTotals, ServerStatus, StatusOptions } from "../server_status.ts";
import { checkHttpCredentials } from "./http_auth.ts";
import { LIVE_CONTENT_TYPE } from "./live_view.ts";
import { LiveViews } from "./live_views.ts";
import { formatMetrics, METRICS_CONTENT_TYPE } from "./metrics.ts";
import { parseMediaTime, snapshotResponse } from "./snapshot.ts";
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from "./status_page.ts";

/** Longest request URL served; a longer one is answered 414. */
export const MAX_HTTP_URL = 4096;

/** How long closing waits for answers under way to finish before it cuts them, ms. */
export const SHUTDOWN_GRACE_MS = 1000;

/** The methods served. */
const METHODS = ["GET", "HEAD"];

/** Options for {@linkcode WebServer.start}. */
export interface WebServerOptions {
  /** Address to listen on. */
  hostname: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Most requests in progress at once; more are answered 503. */
  maxRequests: number;
  /** The RTSP server's parts: its streams, sessions, users, clock and log. */
  server: ServerContext;
  /** A snapshot of the whole server. */
  status(options?: StatusOptions): Promise<ServerStatus>;
}

/** An error a route answers with: its status, the reason for the log, and headers. */
interface Refusal {
  status: number;
  reason: string;
  headers?: readonly (readonly [string, string])[];
}

/** What a route answers. */
type Answer = Response | Refusal;

/** The HTTP server. */
export class WebServer {
  readonly #options: WebServerOptions;
  readonly #http: Deno.HttpServer<Deno.NetAddr>;
  readonly #abort = new AbortController();
  readonly #views: LiveViews;
  readonly #requests = new RequestCounts(METHODS);
  #inProgress = 0;
  #refused = 0;
  #closing = false;
  /** Told when no request is in progress any more, while closing. */
  #whenIdle: (() => void) | undefined;

  private constructor(options: WebServerOptions) {
    this.#options = options;
    const { sessions, clock, log } = options.server;
    this.#views = new LiveViews({ sessions, clock, log });
    this.#http = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      signal: this.#abort.signal,
      onListen: () => {}, // the CLI says where it listens
      onError: (error) => {
        options.server.log(`HTTP handler failed: ${error}`);
        return new Response(null, { status: 500 });
      },
    }, (request, info) => this.#handle(request, info));
  }

  /**
   * Listen for HTTP.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken.
   */
  static start(options: WebServerOptions): WebServer {
    return new WebServer(options);
  }

  /** The address HTTP is served on. */
  get addr(): Deno.NetAddr {
    return this.#http.addr;
  }

  /** The HTTP side's counters. */
  totals(): HttpTotals {
    return {
      requests: this.#requests.entries(),
      inProgress: this.#inProgress,
      refused: this.#refused,
      liveViews: this.#views.started,
      liveFramesDropped: this.#views.framesDropped,
    };
  }

  /**
   * End every live view, stop listening and close every connection: the
   * answers under way may finish (a live view's last part) for up to
   * {@linkcode SHUTDOWN_GRACE_MS}, then the rest are cut (a client that
   * does not read).
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#views.closeAll();
    if (this.#inProgress > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#whenIdle = resolve;
        timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
      });
      clearTimeout(timer);
    }
    this.#abort.abort();
    await this.#http.finished;
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const client = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    if (this.#closing || this.#inProgress >= this.#options.maxRequests) {
      this.#refused++;
      return this.#reply(request, client, {
        status: 503,
        reason: this.#closing
          ? "the server is closing"
          : `more than ${this.#options.maxRequests} HTTP requests in progress`,
        headers: [["Retry-After", "1"]],
      });
    }
    this.#inProgress++;
    const done = () => {
      if (--this.#inProgress === 0) this.#whenIdle?.();
    };
    info.completed.then(done, done);
    let answer: Answer;
    try {
      answer = await this.#route(request, client, info);
    } catch (error) {
      this.#options.server.log(`${client} HTTP ${request.method} failed: ${error}`);
      answer = { status: 500, reason: String(error) };
    }
    return this.#reply(request, client, answer);
  }

  async #route(
    request: Request,
    client: string,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Answer> {
    if (!METHODS.includes(request.method)) {
      return {
        status: 405,
        reason: `method ${request.method.slice(0, 20)} is not served`,
        headers: [["Allow", METHODS.join(", ")]],
      };
    }
    if (request.url.length > MAX_HTTP_URL) {
      return { status: 414, reason: `URL longer than ${MAX_HTTP_URL}` };
    }
    const url = new URL(request.url);
    const auth = checkHttpCredentials(
      this.#options.server.auth,
      request,
      url.pathname + url.search,
    );
    if (!auth.ok) {
      return {
        status: 401,
        reason: auth.reason,
        headers: auth.challenges.map((challenge) => ["WWW-Authenticate", challenge]),
      };
    }
    const head = request.method === "HEAD";
    const path = url.pathname;
    if (path === "/") {
      return this.#body(head, STATUS_PAGE_HTML, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": STATUS_PAGE_CSP,
        "Cache-Control": "no-store",
      });
    }
    if (path === "/status.json") {
      return this.#body(head, JSON.stringify(await this.#options.status()), {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
      });
    }
    if (path === "/metrics") {
      return this.#body(head, formatMetrics(await this.#options.status({ lists: false })), {
        "Content-Type": METRICS_CONTENT_TYPE,
        "Cache-Control": "no-store",
      });
    }
    if (path.startsWith("/live/")) return await this.#live(url, client, head, info);
    if (path.startsWith("/snapshot/")) return await this.#snapshot(url, head);
    return { status: 404, reason: "no such page" };
  }

  async #snapshot(url: URL, head: boolean): Promise<Answer> {
    const sec = parseMediaTime(url.searchParams.get("t"));
    if (sec === undefined) return { status: 400, reason: "t is not a time in seconds" };
    const found = await this.#open(url.pathname.slice("/snapshot/".length));
    if ("refusal" in found) return found.refusal;
    const { stream } = found;
    try {
      return snapshotResponse(stream, sec, head);
    } catch (error) {
      if (error instanceof InvalidRangeError) {
        // A live path whose publisher has sent no whole frame yet: try again shortly.
        return stream.live
          ? { status: 503, reason: error.message, headers: [["Retry-After", "1"]] }
          : { status: 400, reason: error.message };
      }
      throw error;
    }
  }

  async #live(
    url: URL,
    client: string,
    head: boolean,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Answer> {
    const sec = parseMediaTime(url.searchParams.get("t"));
    if (sec === undefined) return { status: 400, reason: "t is not a time in seconds" };
    const found = await this.#open(url.pathname.slice("/live/".length));
    if ("refusal" in found) return found.refusal;
    const { stream, name } = found;
    const headers = { "Content-Type": LIVE_CONTENT_TYPE, "Cache-Control": "no-store" };
    if (head) return new Response(null, { headers });
    if (this.#closing) return { status: 503, reason: "the server is closing" };
    let view;
    try {
      view = this.#views.open({ stream, name, path: url.pathname, client, startSec: sec });
    } catch (error) {
      if (error instanceof RtspError) {
        // Over the session limit: as busy as RTSP's 453, in HTTP's words.
        return { status: 503, reason: error.message, headers: [["Retry-After", "5"]] };
      }
      if (error instanceof InvalidRangeError) return { status: 400, reason: error.message };
      throw error;
    }
    // The client went (or the body ended): the view ends either way.
    info.completed.then(() => view.close(), () => view.close());
    return new Response(view.body, { headers });
  }

  /**
   * The stream a path names (percent-decoded), or the answer when there is
   * none: 404 for a name outside the media directory or not there, 415 for
   * a file that is not lab MJPEG.
   */
  async #open(
    encoded: string,
  ): Promise<{ stream: ServedStream; name: string } | { refusal: Refusal }> {
    let name: string;
    try {
      name = decodeURIComponent(encoded);
    } catch {
      return { refusal: { status: 404, reason: "the name is not valid percent-encoding" } };
    }
    try {
      return { stream: await this.#options.server.streams.open(name), name };
    } catch (error) {
      if (error instanceof MediaError) {
        return { refusal: { status: error.status, reason: error.message } };
      }
      throw error;
    }
  }

  #body(head: boolean, text: string, headers: Record<string, string>): Response {
    const bytes = new TextEncoder().encode(text);
    return new Response(head ? null : bytes, {
      headers: { ...headers, "Content-Length": String(bytes.length) },
    });
  }

  /** The response of a refusal: its status line as plain text (nothing of the request echoed). */
  #refusal(refusal: Refusal): Response {
    const headers = new Headers([["Content-Type", "text/plain; charset=utf-8"]]);
    for (const [name, value] of refusal.headers ?? []) headers.append(name, value);
    const text = `${refusal.status} ${STATUS_TEXT[refusal.status] ?? ""}\n`;
    return new Response(text, { status: refusal.status, headers });
  }

  /** Count the answer, log it when it is an error, and make it a response. */
  #reply(request: Request, client: string, answer: Answer): Response {
    const response = answer instanceof Response ? answer : this.#refusal(answer);
    const reason = answer instanceof Response ? undefined : answer.reason;
    response.headers.set("X-Content-Type-Options", "nosniff");
    this.#requests.count(request.method, response.status);
    if (response.status >= 400) {
      const path = new URL(request.url).pathname.slice(0, 200);
      this.#options.server.log(
        `${client} HTTP ${request.method.slice(0, 20)} ${path} ${response.status}${
          reason ? ` (${reason})` : ""
        }`,
      );
    }
    return response;
  }
}

/** Reason phrases of the statuses the HTTP side answers with. */
const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  503: "Service Unavailable",
};
