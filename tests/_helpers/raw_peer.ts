// A hand-driven peer on a real socket: writes handshake frames of its choosing and reads
// what the transport answers, for tests of the wire protocol and of hostile peers.

import { encodeFrame, FrameDecoder, type FrameType } from "../../src/remote/_framing.ts";
import { PROTOCOL_VERSION } from "../../src/remote/_handshake_frames.ts";
import { defaultTcp } from "../../src/runtime/select.ts";
import type { TcpConnection, TlsOptions } from "../../src/runtime/tcp.ts";
import { waitUntil } from "./child_process.ts";

/** One frame read from the transport. */
export interface RawFrame {
  type: FrameType;
  payload: Uint8Array;
}

/** A raw socket speaking frames to a transport. */
export class RawPeer {
  readonly frames: RawFrame[] = [];
  readonly bytes: Uint8Array[] = [];
  closed = false;
  #read = 0;
  readonly conn: TcpConnection;

  private constructor(conn: TcpConnection) {
    this.conn = conn;
    const decoder = new FrameDecoder();
    conn.onData((chunk) => {
      this.bytes.push(chunk.slice());
      decoder.push(chunk, (type, payload) => this.frames.push({ type, payload: payload.slice() }));
    });
    conn.onClose(() => {
      this.closed = true;
    });
  }

  /** Connects to a transport on 127.0.0.1. */
  static async connect(port: number, tls?: TlsOptions): Promise<RawPeer> {
    return new RawPeer(await defaultTcp().connect("127.0.0.1", port, { tls }));
  }

  /** Writes a frame with a JSON body. */
  sendJson(type: FrameType, body: unknown): void {
    this.conn.write(encodeFrame(type, new TextEncoder().encode(JSON.stringify(body))));
  }

  /** The next unread frame, waiting up to `timeout` ms for it. */
  async next(timeout = 5000): Promise<RawFrame> {
    await waitUntil(
      () => this.frames.length > this.#read || this.closed,
      timeout,
      "a frame from the transport",
    );
    if (this.frames.length <= this.#read) throw new Error("connection closed before a frame");
    return this.frames[this.#read++];
  }

  /** Everything the transport wrote, as text. */
  text(): string {
    return this.bytes.map((b) => new TextDecoder().decode(b)).join("");
  }

  /** Waits for the transport to close the connection. */
  async waitClosed(timeout = 5000): Promise<void> {
    await waitUntil(() => this.closed, timeout, "the transport to close the connection");
  }

  destroy(): void {
    this.conn.destroy();
  }
}

/** The JSON body of a frame. */
export function json(frame: RawFrame): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(frame.payload));
}

/** A protocol-3 hello claiming `host:port`. */
export function helloBody(
  system: string,
  host: string,
  port: number,
  incarnation = "raw-1",
): Record<string, unknown> {
  return {
    v: PROTOCOL_VERSION,
    system,
    host,
    port,
    incarnation,
    maxFrameSize: 1 << 20,
    nonce: "ab".repeat(32),
  };
}
