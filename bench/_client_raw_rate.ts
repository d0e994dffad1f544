// The raw baseline of the client benches: `messages` JSON frames (`{type, seq, account}`, 30
// accounts) written to a native socket and only decoded by bench/_remote_peer.ts "raw", after
// 20 000 frames of warm-up; the rate is frames/s until the peer counted them all.
import { fileURLToPath } from "node:url";
import { defaultTcp } from "../src/runtime/select.ts";
import { Peer } from "./_peer.ts";
import { sendRawFrames } from "./_raw_frames.ts";

const peerScript = fileURLToPath(new URL("./_remote_peer.ts", import.meta.url));

/** Frames per second over a raw socket to a peer process that decodes them. */
export async function rawTellRate(messages: number): Promise<number> {
  const warm = 20_000;
  const message = (seq: number) => ({ type: "inc", seq, account: `e${seq % 30}` });
  const peer = new Peer(peerScript, ["raw", [warm, warm + messages].join(",")], 120_000, 5000);
  try {
    const { port } = await peer.waitFor((e) => e.event === "ready");
    const conn = await defaultTcp().connect("127.0.0.1", port);
    await sendRawFrames(conn, 0, warm, message);
    await peer.waitFor((e) => e.count === warm);
    const t = performance.now();
    await sendRawFrames(conn, warm, messages, message);
    await peer.waitFor((e) => e.count === warm + messages);
    const rate = messages / ((performance.now() - t) / 1000);
    conn.destroy();
    return rate;
  } finally {
    await peer.stop();
  }
}
