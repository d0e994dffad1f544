import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse } from "@std/toml";
import { configFromObject } from "../../src/config/config_from_object.ts";
import { ConfigError } from "../../src/config/errors.ts";

const downing = (toml: string) => configFromObject(parse(toml)).cluster.downing;

describe("[cluster.downing] in casty.toml", () => {
  it("reads every strategy, stable_after and quorum_size", () => {
    assert.deepEqual(downing('[cluster.downing]\nstrategy = "keep_oldest"\nstable_after = 7'), {
      stableAfter: 7_000,
      strategy: "keepOldest",
    });
    assert.deepEqual(downing('[cluster.downing]\nstrategy = "static_quorum"\nquorum_size = 3'), {
      stableAfter: 4_000,
      strategy: "staticQuorum",
      quorumSize: 3,
    });
    assert.equal(downing('[cluster.downing]\nstrategy = "down_all"').strategy, "downAll");
    assert.equal(downing('[cluster.downing]\nstrategy = "off"').strategy, "off");
    assert.equal(downing("").strategy, "keepMajority");
  });

  it("refuses static_quorum without quorum_size, and a quorum_size that is not a positive integer", () => {
    assert.throws(
      () => downing('[cluster.downing]\nstrategy = "static_quorum"'),
      (e: unknown) =>
        e instanceof ConfigError && /cluster\.downing\.quorum_size/.test(e.message) &&
        /needs quorum_size/.test(e.message),
    );
    for (const bad of ["0", "2.5", '"3"']) {
      assert.throws(
        () => downing(`[cluster.downing]\nstrategy = "static_quorum"\nquorum_size = ${bad}`),
        (e: unknown) => e instanceof ConfigError && /quorum_size/.test(e.message),
        bad,
      );
    }
  });

  it("defaults the failure detector's acceptable pause to 1750 ms (a 1.5 s stall tolerated)", () => {
    assert.equal(configFromObject({}).cluster.failureDetector.acceptableHeartbeatPause, 1_750);
  });
});
