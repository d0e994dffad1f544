import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AddressError,
  compareNodeAddresses,
  formatActorUri,
  formatNodeAddress,
  nodeAddress,
  parseActorUri,
  parseNodeAddress,
} from "../../src/remote/address.ts";

describe("parseNodeAddress()", () => {
  it("parses host:port and [ipv6]:port", () => {
    assert.deepEqual(parseNodeAddress("127.0.0.1:25520"), { host: "127.0.0.1", port: 25520 });
    assert.deepEqual(parseNodeAddress("node-1.example:7"), { host: "node-1.example", port: 7 });
    assert.deepEqual(parseNodeAddress("[::1]:8080"), { host: "::1", port: 8080 });
  });

  it("round-trips through formatNodeAddress()", () => {
    for (const text of ["127.0.0.1:1", "localhost:65535", "[fe80::1]:9"]) {
      assert.equal(formatNodeAddress(parseNodeAddress(text)), text);
    }
  });

  it("rejects malformed addresses with AddressError", () => {
    for (
      const bad of [
        "",
        "host",
        "host:",
        ":80",
        "host:abc",
        "host:70000",
        "::1:80",
        "[::1]80",
        "a b:1",
      ]
    ) {
      assert.throws(() => parseNodeAddress(bad), AddressError, bad);
    }
  });
});

describe("nodeAddress()", () => {
  it("validates host and port", () => {
    assert.deepEqual(nodeAddress("127.0.0.1", 0), { host: "127.0.0.1", port: 0 });
    assert.throws(() => nodeAddress("127.0.0.1", -1), AddressError);
    assert.throws(() => nodeAddress("127.0.0.1", 1.5), AddressError);
    assert.throws(() => nodeAddress("", 1), AddressError);
  });
});

describe("compareNodeAddresses()", () => {
  it("orders by host, then port", () => {
    const list = [
      { host: "127.0.0.2", port: 1 },
      { host: "127.0.0.1", port: 20 },
      { host: "127.0.0.1", port: 3 },
    ];
    list.sort(compareNodeAddresses);
    assert.deepEqual(list.map(formatNodeAddress), ["127.0.0.1:3", "127.0.0.1:20", "127.0.0.2:1"]);
  });
});

describe("parseActorUri()", () => {
  it("parses a remote URI", () => {
    assert.deepEqual(parseActorUri("casty://bank@127.0.0.1:25520/accounts/alice"), {
      system: "bank",
      address: { host: "127.0.0.1", port: 25520 },
      path: "/accounts/alice",
    });
  });

  it("parses a local URI and the root path", () => {
    assert.deepEqual(parseActorUri("casty://bank/user"), { system: "bank", path: "/user" });
    assert.deepEqual(parseActorUri("casty://bank@h:1/"), {
      system: "bank",
      address: { host: "h", port: 1 },
      path: "/",
    });
  });

  it("round-trips through formatActorUri()", () => {
    for (
      const uri of [
        "casty://a@127.0.0.1:1/x/y",
        "casty://a/x",
        "casty://a@[::1]:5/_cluster/_topology",
      ]
    ) {
      assert.equal(formatActorUri(parseActorUri(uri)), uri);
    }
  });

  it("rejects malformed URIs with a clear message", () => {
    const cases: [string, RegExp][] = [
      ["http://bank/x", /scheme/],
      ["casty://bank", /path/],
      ["casty:///x", /system name/],
      ["casty://ba nk/x", /system name/],
      ["casty://bank@host/x", /host:port/],
      ["casty://bank@host:0/x", /port/],
      ["casty://bank@host:99999/x", /port/],
      ["casty://bank/x//y", /empty segment/],
      ["casty://bank/x?q", /path/],
    ];
    for (const [uri, message] of cases) {
      assert.throws(() => parseActorUri(uri), (err: unknown) => {
        assert.ok(err instanceof AddressError, uri);
        assert.match(err.message, message, uri);
        assert.equal(err.input, uri);
        return true;
      });
    }
  });
});

describe("formatActorUri()", () => {
  it("rejects a path without a leading slash", () => {
    assert.throws(() => formatActorUri({ system: "a", path: "x" }), AddressError);
  });
});
