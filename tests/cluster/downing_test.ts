import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KeepMajority } from "../../src/cluster/downing.ts";
import { type Member, type MemberStatus, nodeKey } from "../../src/cluster/member.ts";

const m = (port: number, status: MemberStatus = "up"): Member => ({
  address: { host: "10.0.0.1", port },
  status,
  roles: [],
  id: "a",
});
const keys = (...ports: number[]): Set<string> => new Set(ports.map((p) => nodeKey(m(p))));

describe("KeepMajority", () => {
  it("waits until the unreachable set has been stable for stableAfter", () => {
    const sbr = new KeepMajority({ stableAfter: 1000 });
    const members = [m(1), m(2), m(3)];
    assert.equal(sbr.decide(0, members, keys(3)).type, "none");
    assert.equal(sbr.decide(999, members, keys(3)).type, "none");
    const d = sbr.decide(1000, members, keys(3));
    assert.equal(d.type, "downUnreachable");
    assert.deepEqual(d.type === "downUnreachable" && d.members.map((x) => x.address.port), [3]);
  });

  it("restarts the stability window when the unreachable set changes", () => {
    const sbr = new KeepMajority({ stableAfter: 1000 });
    const members = [m(1), m(2), m(3), m(4), m(5)];
    sbr.decide(0, members, keys(5));
    assert.equal(sbr.decide(900, members, keys(4, 5)).type, "none");
    assert.equal(sbr.decide(1500, members, keys(4, 5)).type, "none");
    assert.equal(sbr.decide(1900, members, keys(4, 5)).type, "downUnreachable");
    // all reachable again: nothing to do, and the window starts over next time
    assert.equal(sbr.decide(2000, members, keys()).type, "none");
    assert.equal(sbr.decide(2100, members, keys(5)).type, "none");
  });

  it("tells the minority side to shut itself down", () => {
    const sbr = new KeepMajority({ stableAfter: 0 });
    assert.equal(sbr.decide(0, [m(1), m(2), m(3), m(4), m(5)], keys(1, 2, 3)).type, "shutdownSelf");
  });

  it("breaks a tie in favour of the side with the lowest address", () => {
    const members = [m(1), m(2), m(3), m(4)];
    assert.equal(
      new KeepMajority({ stableAfter: 0 }).decide(0, members, keys(3, 4)).type,
      "downUnreachable",
    );
    assert.equal(
      new KeepMajority({ stableAfter: 0 }).decide(0, members, keys(1, 2)).type,
      "shutdownSelf",
    );
    assert.equal(
      new KeepMajority({ stableAfter: 0 }).decide(0, members, keys(2, 3)).type,
      "downUnreachable",
    );
  });

  it("counts only up and leaving members, but downs unreachable joining ones too", () => {
    const sbr = new KeepMajority({ stableAfter: 0 });
    const members = [m(1), m(2, "joining"), m(3, "joining"), m(4, "joining")];
    const d = sbr.decide(0, members, keys(2, 3, 4));
    assert.equal(d.type, "downUnreachable");
    assert.equal(d.type === "downUnreachable" && d.members.length, 3);
  });

  it("ignores unreachable members that are already down or exiting", () => {
    const sbr = new KeepMajority({ stableAfter: 0 });
    assert.equal(sbr.decide(0, [m(1), m(2, "down"), m(3, "exiting")], keys(2, 3)).type, "none");
  });

  it("does nothing when switched off", () => {
    const sbr = new KeepMajority({ stableAfter: 0, strategy: "off" });
    assert.equal(sbr.decide(0, [m(1), m(2), m(3)], keys(3)).type, "none");
  });
});
