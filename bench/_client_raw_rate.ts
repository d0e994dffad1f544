// The raw baseline of the client benches: `messages` JSON frames (`{type, seq, account}`, 30
// accounts) written to native sockets and only decoded by bench/_remote_peer.ts "raw" (one
// process, or as many as the client's nodes), after a warm-up (20 000 frames per peer unless
// told otherwise) through the same sockets; the rate is frames/s until the peers counted them all.
import process from "node:process";
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
export async function rawTellRate(
  messages: number,
  receivers = 1,
  warm = 20_000 * receivers,
): Promise<number> {
  return (await rawTellRun(messages, receivers, warm)).rate;
}

/** What one raw run measured: the rate and the CPU time per message, per side. */
export interface RawRun {
  /** Frames per second. */
  readonly rate: number;
  /** The sender's CPU (this process, user + system) per frame, in µs. */
  readonly senderCpu: number;
  /** The receivers' CPU (all of them together) per frame, in µs. */
  readonly receiverCpu: number;
}

/**
 * Like {@linkcode rawTellRate}, with the CPU time both sides spent per frame. `warmTotal` frames
 * (split over the receivers) go first, through the same sockets, and are not timed.
 */
export async function rawTellRun(
  messages: number,
  receivers = 1,
  warmTotal = 20_000 * receivers,
): Promise<RawRun> {
  const warm = Math.max(1, Math.ceil(warmTotal / receivers));
  const share = Math.ceil(messages / receivers);
  const message = (seq: number) => ({ type: "inc", seq, account: `e${seq % 30}` });
  const peers = Array.from(
    { length: receivers },
    () => new Peer(peerScript, ["raw", [warm, warm + share].join(",")], 120_000, 5000),
  );
  try {
    const cpu0: number[] = [];
    const conns = await Promise.all(peers.map(async (peer, i) => {
      const { port } = await peer.waitFor((e) => e.event === "ready");
      const conn = await defaultTcp().connect("127.0.0.1", port);
      await sendRawFrames(conn, 0, warm, message);
      cpu0[i] = (await peer.waitFor((e) => e.count === warm)).cpu ?? NaN;
      return conn;
    }));
    const t = performance.now();
    const c0 = process.cpuUsage();
    let receiverCpu = 0;
    await Promise.all(conns.map(async (conn, i) => {
      await sendRawFrames(conn, warm, share, message);
      const done = await peers[i].waitFor((e) => e.count === warm + share);
      receiverCpu += (done.cpu ?? NaN) - cpu0[i];
    }));
    const c1 = process.cpuUsage(c0);
    const total = share * receivers;
    const rate = total / ((performance.now() - t) / 1000);
    for (const conn of conns) conn.destroy();
    return { rate, senderCpu: (c1.user + c1.system) / total, receiverCpu: receiverCpu / total };
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
}
