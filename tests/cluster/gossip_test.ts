import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  bumpVersion,
  claimLeadership,
  decodeGossip,
  decodeSeen,
  emptyGossip,
  encodeGossip,
  encodeSeen,
  findMember,
  type GossipState,
  isConverged,
  isTombstoned,
  laterEpoch,
  leaderActions,
  leaderOf,
  MalformedMessageError,
  markSeen,
  mergeGossip,
  observe,
  pruneTombstones,
  putMember,
  removeMembers,
  unreachableKeys,
} from "../../src/cluster/gossip.ts";
import { type Member, type MemberStatus, nodeKey } from "../../src/cluster/member.ts";
import { seededRandom } from "../../src/testing/membership_simulation.ts";

function member(port: number, status: MemberStatus, id = "a", upNumber?: number): Member {
  const m: Member = { address: { host: "10.0.0.1", port }, status, roles: [], id };
  return upNumber === undefined ? m : { ...m, upNumber };
}
const key = (port: number, id = "a"): string =>
  nodeKey({ address: { host: "10.0.0.1", port }, id });

function stateOf(by: string, ...members: Member[]): GossipState {
  let g = emptyGossip();
  for (const m of members) g = putMember(g, m);
  return bumpVersion(g, by);
}

/**
 * Random but realistic histories: nodes change their own copies (bumping the version) and
 * merge each other's, as the protocol does. Returns every state that existed.
 */
function randomHistory(seed: number, steps: number): GossipState[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const ports = [1, 2, 3, 4, 5];
  const incarnation = new Map<number, number>(ports.map((p) => [p, 0]));
  const idOf = (p: number): string => `i${incarnation.get(p)}`;
  const local = new Map<number, GossipState>();
  local.set(1, markSeen(stateOf(key(1, "i0"), member(1, "joining", "i0")), key(1, "i0")));
  const all: GossipState[] = [local.get(1)!];
  const statuses: MemberStatus[] = ["leaving", "down"];
  for (let i = 0; i < steps; i++) {
    const p = pick([...local.keys()]);
    const me = key(p, idOf(p));
    let g = local.get(p)!;
    if (findMember(g, me) === undefined) continue; // removed nodes stop (as the engine does)
    const r = random();
    if (r < 0.15) { // someone joins through p (maybe a new incarnation of a known port)
      const q = pick(ports);
      // A running node never loses its state: a port that is already running rejoins only as
      // a new incarnation.
      if (local.has(q)) incarnation.set(q, incarnation.get(q)! + 1);
      const joiner = member(q, "joining", idOf(q));
      // as the engine does: admitting a new incarnation downs the previous ones at that port
      for (const m of g.members) {
        if (m.address.port === q && m.status !== "down") g = putMember(g, { ...m, status: "down" });
      }
      g = bumpVersion(putMember(g, joiner), me);
      if (q !== p) {
        local.set(q, markSeen(g, key(q, idOf(q))));
        all.push(local.get(q)!);
      }
    } else if (r < 0.3) {
      g = bumpVersion(leaderActions(g, i).state, me);
    } else if (r < 0.45 && g.members.length > 0) {
      const m = pick(g.members);
      g = bumpVersion(putMember(g, { ...m, status: pick(statuses) }), me);
    } else if (r < 0.6 && g.members.length > 0) {
      const m = pick(g.members);
      g = bumpVersion(observe(g, me, [{ subject: nodeKey(m), reachable: random() < 0.4 }]), me);
    } else {
      const q = pick([...local.keys()]);
      g = markSeen(mergeGossip(g, local.get(q)!), me);
    }
    local.set(p, g);
    all.push(g);
  }
  return all;
}

describe("mergeGossip()", () => {
  it("is commutative, associative and idempotent on random histories", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const states = randomHistory(seed, 120);
      const random = seededRandom(seed * 7919);
      const pick = (): GossipState => states[Math.floor(random() * states.length)];
      for (let i = 0; i < 60; i++) {
        const a = pick();
        const b = pick();
        const c = pick();
        assert.deepEqual(mergeGossip(a, b), mergeGossip(b, a), `commutative (seed ${seed})`);
        assert.deepEqual(
          mergeGossip(mergeGossip(a, b), c),
          mergeGossip(a, mergeGossip(b, c)),
          `associative (seed ${seed})`,
        );
        assert.deepEqual(mergeGossip(a, a), a, `idempotent (seed ${seed})`);
        const ab = mergeGossip(a, b);
        assert.deepEqual(mergeGossip(ab, b), ab, `absorbs (seed ${seed})`);
      }
    }
  });

  it("lets the later lifecycle status win", () => {
    const a = stateOf("x", member(1, "up", "a", 1), member(2, "up", "a", 2));
    const b = stateOf("y", member(1, "leaving", "a", 1), member(2, "down", "a", 2));
    const m = mergeGossip(a, b);
    assert.equal(findMember(m, key(1))?.status, "leaving");
    assert.equal(findMember(m, key(2))?.status, "down");
  });

  it("keeps the admitting node's fencing of an older incarnation, whatever the ids' order", () => {
    // ids are opaque: the new incarnation's id sorts *before* the old one (a clock set back)
    const a = stateOf("x", member(1, "up", "a", 1), member(2, "up", "zz-old", 2));
    const b = stateOf(
      "y",
      member(1, "up", "a", 1),
      member(2, "down", "zz-old", 2),
      member(2, "joining", "aa-new"),
    );
    for (const m of [mergeGossip(a, b), mergeGossip(b, a)]) {
      assert.equal(findMember(m, key(2, "zz-old"))?.status, "down");
      assert.equal(findMember(m, key(2, "aa-new"))?.status, "joining");
    }
  });

  it("never revives a tombstoned member", () => {
    const a = stateOf("x", member(1, "up", "a", 1), member(2, "down", "a", 2));
    const removed = removeMembers(a, [member(2, "down")], 100);
    const stale = stateOf("y", member(1, "up", "a", 1), member(2, "up", "a", 2));
    const m = mergeGossip(removed, stale);
    assert.equal(findMember(m, key(2)), undefined);
    assert.ok(isTombstoned(m, key(2)));
  });

  it("unites seen for the same version, keeps the newer one's, and resets it when concurrent", () => {
    const base = stateOf("x", member(1, "up", "a", 1), member(2, "up", "a", 2));
    const s1 = markSeen(base, key(1));
    const s2 = markSeen(base, key(2));
    assert.deepEqual(mergeGossip(s1, s2).seen, [key(1), key(2)]);
    const newer = markSeen(bumpVersion(base, key(2)), key(2));
    assert.deepEqual(mergeGossip(s1, newer).seen, [key(2)]);
    const other = bumpVersion(base, key(1));
    assert.deepEqual(mergeGossip(other, newer).seen, []);
  });

  it("takes each observer's newer reachability row", () => {
    const base = stateOf(
      "x",
      member(1, "up", "a", 1),
      member(2, "up", "a", 2),
      member(3, "up", "a", 3),
    );
    const v1 = observe(base, key(1), [{ subject: key(3), reachable: false }]);
    const v2 = observe(v1, key(1), [{ subject: key(3), reachable: true }]);
    assert.ok(unreachableKeys(v1).has(key(3)));
    assert.ok(!unreachableKeys(mergeGossip(v1, v2)).has(key(3)));
    assert.ok(!unreachableKeys(mergeGossip(v2, v1)).has(key(3)));
  });
});

describe("isConverged()", () => {
  const three = stateOf(
    key(1),
    member(1, "up", "a", 1),
    member(2, "up", "a", 2),
    member(3, "up", "a", 3),
  );

  it("needs every up member to have seen the version", () => {
    let g = markSeen(markSeen(three, key(1)), key(2));
    assert.ok(!isConverged(g));
    g = markSeen(g, key(3));
    assert.ok(isConverged(g));
  });

  it("is blocked by an unreachable up member, but not by a downed one", () => {
    let g = markSeen(markSeen(markSeen(three, key(1)), key(2)), key(3));
    g = observe(g, key(1), [{ subject: key(3), reachable: false }]);
    assert.ok(!isConverged(g));
    g = putMember(g, member(3, "down", "a", 3));
    assert.ok(isConverged(g));
  });

  it("does not wait for joining members once some member is up", () => {
    const g = putMember(
      markSeen(markSeen(markSeen(three, key(1)), key(2)), key(3)),
      member(4, "joining"),
    );
    assert.ok(isConverged(g));
  });
});

describe("leaderOf()", () => {
  it("is the lowest reachable up or leaving member", () => {
    let g = stateOf("x", member(1, "joining"), member(2, "up", "a", 1), member(3, "up", "a", 2));
    assert.equal(leaderOf(g, key(3))?.address.port, 2);
    g = observe(g, key(3), [{ subject: key(2), reachable: false }]);
    assert.equal(leaderOf(g, key(3))?.address.port, 3);
    // an observer does not count itself out
    assert.equal(leaderOf(g, key(2))?.address.port, 2);
  });

  it("falls back to the lowest joining member while nobody is up", () => {
    const g = stateOf("x", member(2, "joining"), member(1, "joining"));
    assert.equal(leaderOf(g, key(2))?.address.port, 1);
  });
});

describe("leaderActions()", () => {
  it("moves joining → up (numbered), leaving → exiting, and removes exiting and down", () => {
    const g = stateOf(
      "x",
      member(1, "up", "a", 1),
      member(2, "joining"),
      member(3, "joining"),
      member(4, "leaving", "a", 2),
      member(5, "exiting", "a", 3),
      member(6, "down", "a", 4),
    );
    const { state, removed } = leaderActions(g, 500);
    assert.equal(findMember(state, key(2))?.upNumber, 5);
    assert.equal(findMember(state, key(3))?.upNumber, 6);
    assert.equal(findMember(state, key(4))?.status, "exiting");
    assert.deepEqual(removed.map((m) => m.address.port), [5, 6]);
    assert.equal(state.members.length, 4);
    assert.deepEqual(state.tombstones.map((t) => t.removedAt), [500, 500]);
  });
});

describe("pruneTombstones()", () => {
  it("drops tombstones older than the cut-off", () => {
    const g = removeMembers(stateOf("x", member(1, "up", "a", 1), member(2, "down")), [
      member(2, "down"),
    ], 1000);
    assert.equal(pruneTombstones(g, 1000).tombstones.length, 1);
    assert.equal(pruneTombstones(g, 1001).tombstones.length, 0);
  });
});

describe("wire form", () => {
  it("round-trips random states through JSON", () => {
    for (const g of randomHistory(99, 80)) {
      const back = decodeGossip(JSON.parse(JSON.stringify(encodeGossip(g))));
      assert.deepEqual(back, g);
    }
  });

  it("encodes seen as a bitset over the members", () => {
    let g = stateOf("x", member(1, "up", "a", 1), member(2, "up", "a", 2), member(3, "up", "a", 3));
    g = markSeen(markSeen(g, key(1)), key(3));
    assert.deepEqual(decodeSeen(g, encodeSeen(g)), [key(1), key(3)]);
    assert.deepEqual(decodeSeen(g, "not base64!"), []);
  });
});

describe("wire validation", () => {
  const good = () =>
    JSON.parse(JSON.stringify(encodeGossip(
      claimLeadership(stateOf("x", member(1, "up", "a", 1), member(2, "up", "a", 2)), key(1)),
    )));

  it("round-trips the leader epoch", () => {
    assert.deepEqual(decodeGossip(good()).leaderEpoch, { epoch: 1, leader: key(1) });
  });

  it("rejects wrong types, non-finite or out-of-range numbers and oversized fields", () => {
    const cases: [string, (w: Record<string, unknown[]>) => void][] = [
      ["members not an array", (w) => (w.m = "x" as unknown as unknown[])],
      ["a fractional port", (w) => ((w.m[0] as unknown[])[1] = 1.5)],
      ["a port over 65535", (w) => ((w.m[0] as unknown[])[1] = 70000)],
      ["an unknown status", (w) => ((w.m[0] as unknown[])[3] = 9)],
      ["a NaN-like version counter", (w) => ((w.v[0] as unknown[])[1] = "1")],
      ["a member index out of range", (w) => ((w.v[0] as unknown[])[0] = 99)],
      ["a huge id", (w) => ((w.m[0] as unknown[])[2] = "x".repeat(10_000))],
      ["too many roles", (w) => ((w.m[0] as unknown[])[5] = Array(1000).fill("r"))],
      ["a duplicate member", (w) => w.m.push(w.m[0])],
      ["a negative epoch", (w) => ((w as Record<string, unknown>).e = [0, -1])],
      ["a bad seen bitset", (w) => ((w as Record<string, unknown>).s = "%%%")],
    ];
    for (const [what, spoil] of cases) {
      const w = good();
      spoil(w);
      assert.throws(() => decodeGossip(w), MalformedMessageError, what);
    }
  });
});

describe("laterEpoch()", () => {
  it("keeps the higher epoch, and on a tie the lower leader key, in any order", () => {
    const a = { epoch: 2, leader: key(2) };
    const b = { epoch: 2, leader: key(1) };
    const c = { epoch: 3, leader: key(5) };
    assert.equal(laterEpoch(a, b), b);
    assert.equal(laterEpoch(b, a), b);
    assert.equal(laterEpoch(a, c), c);
    assert.equal(laterEpoch(undefined, a), a);
    const x = mergeGossip(
      claimLeadership(emptyGossip(), key(2)),
      claimLeadership(emptyGossip(), key(1)),
    );
    assert.deepEqual(x.leaderEpoch, { epoch: 1, leader: key(1) });
  });
});
