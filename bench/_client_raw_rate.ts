// The raw baseline of the client benches: `messages` JSON frames (`{type, seq, account}`, 30
// accounts) written to native sockets and only decoded by bench/_remote_peer.ts "raw" (one
// process, or as many as the client's nodes), after 20 000 frames of warm-up per peer; the rate
// is frames/s until the peers counted them all.
import { fileURLToPath } from "node:url";
import { defaultTcp } from "../src/runtime/select.ts";
import { Peer } from "./_peer.ts";
import { sendRawFrames } from "./_raw_frames.ts";

const peerScript = fileURLToPath(new URL("./_remote_peer.ts", import.meta.url));

/**
 * Frames per second over raw sockets to `receivers` peer processes that decode them (the
 * messages split evenly, one connection per peer, all written at once, each paced on its own
 * socket), timed until every peer counted its share.
 */
export async function rawTellRate(messages: number, receivers = 1): Promise<number> {
  const warm = 20_000;
  const share = Math.ceil(messages / receivers);
  const message = (seq: number) => ({ type: "inc", seq, account: `e${seq % 30}` });
  const peers = Array.from(
    { length: receivers },
    () => new Peer(peerScript, ["raw", [warm, warm + share].join(",")], 120_000, 5000),
  );
  try {
    const conns = await Promise.all(peers.map(async (peer) => {
      const { port } = await peer.waitFor((e) => e.event === "ready");
      const conn = await defaultTcp().connect("127.0.0.1", port);
      await sendRawFrames(conn, 0, warm, message);
      await peer.waitFor((e) => e.count === warm);
      return conn;
    }));
    const t = performance.now();
    await Promise.all(conns.map(async (conn, i) => {
      await sendRawFrames(conn, warm, share, message);
      await peers[i].waitFor((e) => e.count === warm + share);
    }));
    const rate = share * receivers / ((performance.now() - t) / 1000);
    for (const conn of conns) conn.destroy();
    return rate;
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
}
