import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type BrokenLink,
  fullyConnectedSurvivors,
  SplitBrainResolver,
  survivorsOf,
} from "../../src/cluster/downing.ts";
import { type Member, type MemberStatus, nodeKey } from "../../src/cluster/member.ts";

const m = (port: number, status: MemberStatus = "up", upNumber = port): Member => ({
  address: { host: "10.0.0.1", port },
  status,
  roles: [],
  id: "a",
  upNumber,
});
const k = (port: number) => nodeKey(m(port));
const cluster = (n: number) => Array.from({ length: n }, (_, i) => m(i + 1));
const link = (a: number, b: number): BrokenLink => [k(a), k(b)];
/** Every link between the two groups (a clean split). */
const split = (a: number[], b: number[]): BrokenLink[] =>
  a.flatMap((x) => b.map((y) => link(x, y)));
const ports = (ms: readonly Member[]) => ms.map((x) => x.address.port);

describe("fullyConnectedSurvivors()", () => {
  it("costs one node for one broken link, keeping the lower address", () => {
    assert.deepEqual(ports(fullyConnectedSurvivors(cluster(3), [link(2, 3)])), [1, 2]);
    assert.deepEqual(ports(fullyConnectedSurvivors(cluster(5), [link(1, 2)])), [1, 3, 4, 5]);
  });

  it("drops only the node cut from most others (5 cut from 2, 3, 4 but not 1)", () => {
    const links = [link(5, 2), link(5, 3), link(5, 4)];
    assert.deepEqual(ports(fullyConnectedSurvivors(cluster(5), links)), [1, 2, 3, 4]);
  });

  it("keeps the larger side of a clean split, and the lower addresses on a tie", () => {
    assert.deepEqual(ports(fullyConnectedSurvivors(cluster(5), split([1, 2], [3, 4, 5]))), [
      3,
      4,
      5,
    ]);
    assert.deepEqual(ports(fullyConnectedSurvivors(cluster(4), split([1, 4], [2, 3]))), [1, 4]);
  });

  it("finds the fewest nodes to drop in a chain and a cycle of broken links", () => {
    // chain 1-2-3-4-5: dropping 2 and 4 leaves 1, 3, 5 (no two of them cut)
    const chain = [link(1, 2), link(2, 3), link(3, 4), link(4, 5)];
    assert.deepEqual(ports(fullyConnectedSurvivors(cluster(6), chain)), [1, 3, 5, 6]);
    // a 5-cycle needs three survivors' worth of removals: only 2 can stay
    const cycle = [link(1, 2), link(2, 3), link(3, 4), link(4, 5), link(5, 1)];
    assert.equal(fullyConnectedSurvivors(cluster(5), cycle).length, 2);
  });

  it("settles a 40|40 clean split within its search budget, deterministically", () => {
    const all = cluster(80);
    const a = Array.from({ length: 40 }, (_, i) => i + 1);
    const b = Array.from({ length: 40 }, (_, i) => i + 41);
    const t0 = performance.now();
    const kept = fullyConnectedSurvivors(all, split(a, b));
    assert.ok(performance.now() - t0 < 2000);
    assert.deepEqual(ports(kept), a);
  });

  it("ignores links to members that are down, exiting or unknown", () => {
    const members = [m(1), m(2), m(3, "down"), m(4, "exiting")];
    const kept = fullyConnectedSurvivors(members, [link(1, 3), link(2, 4), link(1, 9)]);
    assert.deepEqual(ports(kept), [1, 2]);
  });
});

describe("survivorsOf()", () => {
  it("keepMajority: a majority side stays, an exact half stays only with the lowest address", () => {
    assert.deepEqual(ports(survivorsOf("keepMajority", cluster(5), split([1, 2], [3, 4, 5]))), [
      3,
      4,
      5,
    ]);
    assert.deepEqual(ports(survivorsOf("keepMajority", cluster(4), split([1, 4], [2, 3]))), [1, 4]);
    // 2 nodes, one crashed: the lower address survives either way (it cannot tell)
    assert.deepEqual(ports(survivorsOf("keepMajority", cluster(2), [link(1, 2)])), [1]);
    // three-way split of 5 (2|2|1): nobody holds a majority, everyone goes
    const threeWay = [...split([1, 2], [3, 4, 5]), ...split([3, 4], [5])];
    assert.deepEqual(survivorsOf("keepMajority", cluster(5), threeWay), []);
  });

  it("staticQuorum: the survivors stay only when at least quorumSize", () => {
    const links = split([1, 2], [3, 4, 5]);
    assert.deepEqual(ports(survivorsOf("staticQuorum", cluster(5), links, 3)), [3, 4, 5]);
    assert.deepEqual(survivorsOf("staticQuorum", cluster(5), links, 4), []);
  });

  it("keepOldest: the oldest member's side stays, unless it is alone against several", () => {
    const members = [m(1, "up", 5), m(2, "up", 1), m(3, "up", 2), m(4, "up", 3), m(5, "up", 4)];
    // oldest is 2 (upNumber 1), in the minority: its side wins anyway
    assert.deepEqual(ports(survivorsOf("keepOldest", members, split([1, 2], [3, 4, 5]))), [1, 2]);
    // the oldest crashed (cut from everyone): down-if-alone hands over to the others
    const crashed = [1, 3, 4, 5].map((p) => link(2, p));
    assert.deepEqual(ports(survivorsOf("keepOldest", members, crashed)), [1, 3, 4, 5]);
  });

  it("downAll: any broken link takes every node down", () => {
    assert.deepEqual(survivorsOf("downAll", cluster(3), [link(2, 3)]), []);
    assert.deepEqual(ports(survivorsOf("downAll", cluster(3), [])), [1, 2, 3]);
  });
});

describe("SplitBrainResolver", () => {
  it("waits until the broken links have been stable for stableAfter", () => {
    const sbr = new SplitBrainResolver({ stableAfter: 1000 });
    const links = [link(1, 3), link(2, 3)];
    assert.equal(sbr.decide(0, k(1), cluster(3), links).type, "none");
    assert.equal(sbr.decide(999, k(1), cluster(3), links).type, "none");
    const d = sbr.decide(1000, k(1), cluster(3), links);
    assert.equal(d.type, "downUnreachable");
    assert.deepEqual(d.type === "downUnreachable" && ports(d.members), [3]);
  });

  it("restarts the stability window when the links change", () => {
    const sbr = new SplitBrainResolver({ stableAfter: 1000 });
    const five = split([1, 2, 3], [5]);
    const fourAndFive = split([1, 2, 3], [4, 5]);
    sbr.decide(0, k(1), cluster(5), five);
    assert.equal(sbr.decide(900, k(1), cluster(5), fourAndFive).type, "none");
    assert.equal(sbr.decide(1500, k(1), cluster(5), fourAndFive).type, "none");
    const d = sbr.decide(1900, k(1), cluster(5), fourAndFive);
    assert.deepEqual(d.type === "downUnreachable" && ports(d.members), [4, 5]);
    assert.equal(sbr.decide(2000, k(1), cluster(5), []).type, "none");
    assert.equal(sbr.decide(2100, k(1), cluster(5), [link(1, 5)]).type, "none");
  });

  it("waits the recovery lag too when a link healed and a bridge remains", () => {
    // 3 nodes: 2 and 3 both found 1 gone; then 2 heard from it again (a dying node's late
    // answers), leaving one broken link 3-1 with 2 as the bridge: 2 may find 1 gone again
    // within a failure detection, so the picture must hold for that much longer.
    const sbr = new SplitBrainResolver({ stableAfter: 2000 }, 3000, 4000);
    assert.equal(sbr.decide(0, k(3), cluster(3), [link(2, 1), link(3, 1)]).type, "none");
    assert.equal(sbr.decide(1000, k(3), cluster(3), [link(3, 1)]).type, "none");
    assert.equal(sbr.decide(4000, k(3), cluster(3), [link(3, 1)]).type, "none", "3 s: bridge");
    assert.equal(sbr.decide(7999, k(3), cluster(3), [link(3, 1)]).type, "none", "recovery lag");
    assert.equal(sbr.decide(8000, k(3), cluster(3), [link(3, 1)]).type, "shutdownSelf");
    // The same picture reached by a link breaking (nothing healed) waits the observation lag.
    const fresh = new SplitBrainResolver({ stableAfter: 2000 }, 3000, 4000);
    assert.equal(fresh.decide(0, k(3), cluster(3), [link(3, 1)]).type, "none");
    assert.equal(fresh.decide(2999, k(3), cluster(3), [link(3, 1)]).type, "none");
    assert.equal(fresh.decide(3000, k(3), cluster(3), [link(3, 1)]).type, "shutdownSelf");
  });

  it("waits the observation lag too while a member is on no broken link (a bridge)", () => {
    // 5 nodes: 3 and 4 report 2 and 5; node 1 (restarted, or its check comes later) has not
    // reported yet. The picture is a tie {1,2,5} | {1,3,4} that node 1's own links decide.
    const sbr = new SplitBrainResolver({ stableAfter: 2000 }, 3000);
    const partial = [link(3, 2), link(3, 5), link(4, 2), link(4, 5)];
    assert.equal(sbr.decide(0, k(3), cluster(5), partial).type, "none");
    assert.equal(sbr.decide(2000, k(3), cluster(5), partial).type, "none", "node 1 is a bridge");
    // node 1 reports 2 and 5 at 2500: a clean 3|2 split, decided after stableAfter alone
    const full = [...partial, link(1, 2), link(1, 5)];
    assert.equal(sbr.decide(2500, k(3), cluster(5), full).type, "none");
    const d = sbr.decide(4500, k(3), cluster(5), full);
    assert.deepEqual(d.type === "downUnreachable" && ports(d.members), [2, 5]);
    // a real bridge (node 1 never reports) is decided once the lag has passed
    const late = new SplitBrainResolver({ stableAfter: 2000 }, 3000);
    late.decide(0, k(3), cluster(5), partial);
    assert.equal(late.decide(2999, k(3), cluster(5), partial).type, "none");
    assert.equal(late.decide(3000, k(3), cluster(5), partial).type, "shutdownSelf");
    // without a bridge the lag does not apply: a crash of node 3 seen by everyone
    const crash = new SplitBrainResolver({ stableAfter: 2000 }, 3000);
    const all = [1, 2, 4, 5].map((x) => link(x, 3));
    crash.decide(0, k(1), cluster(5), all);
    assert.equal(crash.decide(2000, k(1), cluster(5), all).type, "downUnreachable");
  });

  it("tells a node outside the survivors to shut itself down", () => {
    const sbr = new SplitBrainResolver({ stableAfter: 0 });
    assert.equal(sbr.decide(0, k(3), cluster(3), [link(2, 3)]).type, "shutdownSelf");
    assert.equal(sbr.decide(0, k(2), cluster(3), [link(2, 3)]).type, "downUnreachable");
  });

  it("downs unreachable joining members too, but counts only up and leaving ones", () => {
    const sbr = new SplitBrainResolver({ stableAfter: 0 });
    const members = [m(1), m(2, "joining"), m(3, "joining"), m(4, "joining")];
    const d = sbr.decide(0, k(1), members, split([1], [2, 3, 4]));
    assert.equal(d.type, "downUnreachable");
    assert.deepEqual(d.type === "downUnreachable" && ports(d.members), [2, 3, 4]);
  });

  it("does nothing when switched off", () => {
    const sbr = new SplitBrainResolver({ stableAfter: 0, strategy: "off" });
    assert.equal(sbr.decide(0, k(1), cluster(3), [link(1, 3)]).type, "none");
  });

  it("refuses invalid options with clear errors", () => {
    assert.throws(() => new SplitBrainResolver({ stableAfter: -1 }), /stableAfter -1/);
    assert.throws(
      () => new SplitBrainResolver({ strategy: "staticQuorum" }),
      /staticQuorum needs a positive integer/,
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => new SplitBrainResolver({ strategy: "keepNewest" as any }),
      /Invalid downing strategy "keepNewest"/,
    );
  });
});
