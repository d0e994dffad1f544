import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ACTOR_REF, type ActorRef, isActorRef } from "../../src/actor/actor_ref.ts";
import { SerializationError } from "../../src/serialization/errors.ts";
import { serializedText, TaggedJsonSerializer } from "../../src/serialization/serialization.ts";
import { Behaviors, DeadLetter } from "../../mod.ts";
import { startLocalNode, waitFor } from "../_helpers/probe.ts";

class Deposited {
  constructor(readonly amount: number, readonly at: Date) {}
  describe(): string {
    return `deposited ${this.amount}`;
  }
}

class Counted {
  static constructed = 0;
  readonly count: number;
  constructor(count: number) {
    Counted.constructed++;
    this.count = count;
  }
  get double(): number {
    return this.count * 2;
  }
}

class InsufficientFunds extends Error {
  readonly code = "INSUFFICIENT_FUNDS";
  constructor(readonly missing: number) {
    super(`missing ${missing}`);
    this.name = "InsufficientFunds";
  }
}

class Unregistered {
  x = 1;
}

function fakeRef(address: string): ActorRef<unknown> {
  return {
    [ACTOR_REF]: true,
    path: new URL(address).pathname,
    address,
    tell: () => {},
    send: () => Promise.resolve(),
  };
}

function roundTrip<T>(value: T, serializer = new TaggedJsonSerializer()): T {
  return serializer.deserialize(serializer.serialize(value)) as T;
}

function serializeError(
  value: unknown,
  serializer = new TaggedJsonSerializer(),
): SerializationError {
  try {
    serializer.serialize(value);
  } catch (err) {
    assert.ok(err instanceof SerializationError, `expected SerializationError, got ${err}`);
    assert.equal(err.code, "SERIALIZATION");
    return err;
  }
  assert.fail("serialize() did not throw");
}

function deserializeError(
  text: string,
  serializer = new TaggedJsonSerializer(),
): SerializationError {
  try {
    serializer.deserialize(new TextEncoder().encode(text));
  } catch (err) {
    assert.ok(err instanceof SerializationError, `expected SerializationError, got ${err}`);
    return err;
  }
  assert.fail("deserialize() did not throw");
}

describe("TaggedJsonSerializer round trip", () => {
  it("keeps JSON primitives, arrays and plain objects", () => {
    for (
      const value of ["", "héllo ✓ 🎉", 0, 1.5, -42, true, false, null, [], {}, [1, "a", null]]
    ) {
      assert.deepEqual(roundTrip(value), value);
    }
    const nested = { a: { b: [{ c: "d" }, [1, [2, [3]]]] }, e: "f" };
    assert.deepEqual(roundTrip(nested), nested);
  });

  it("keeps NaN, infinities and negative zero", () => {
    assert.ok(Number.isNaN(roundTrip(NaN)));
    assert.equal(roundTrip(Infinity), Infinity);
    assert.equal(roundTrip(-Infinity), -Infinity);
    assert.ok(Object.is(roundTrip(-0), -0));
    assert.ok(Object.is(roundTrip(0), 0));
    const out = roundTrip({ xs: [NaN, -0, Infinity] });
    assert.ok(Number.isNaN(out.xs[0]) && Object.is(out.xs[1], -0) && out.xs[2] === Infinity);
  });

  it("keeps undefined as a value, a field and an array item", () => {
    assert.equal(roundTrip(undefined), undefined);
    const out = roundTrip({ a: undefined, b: 1 });
    assert.ok(Object.hasOwn(out, "a"));
    assert.deepEqual(out, { a: undefined, b: 1 });
    const arr = roundTrip([1, undefined, 3]);
    assert.equal(arr.length, 3);
    assert.ok(1 in arr);
    assert.equal(arr[1], undefined);
  });

  it("keeps bigints of any size and sign", () => {
    for (const n of [0n, -1n, 2n ** 64n, -(10n ** 40n)]) assert.equal(roundTrip(n), n);
  });

  it("keeps dates, including invalid ones", () => {
    const date = new Date("2024-02-29T12:34:56.789Z");
    const out = roundTrip({ date });
    assert.ok(out.date instanceof Date);
    assert.equal(out.date.getTime(), date.getTime());
    const invalid = roundTrip(new Date("nope"));
    assert.ok(invalid instanceof Date && Number.isNaN(invalid.getTime()));
  });

  it("keeps Uint8Arrays as bytes", () => {
    const bytes = new Uint8Array(70_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
    const out = roundTrip({ bytes, empty: new Uint8Array(0) });
    assert.ok(out.bytes instanceof Uint8Array);
    assert.deepEqual(out.bytes, bytes);
    assert.equal(out.empty.length, 0);
  });

  it("keeps Maps with any keys and Sets, in insertion order", () => {
    const map = new Map<unknown, unknown>([["a", 1], [2, new Date(5)], [{ k: 1 }, [1n]]]);
    const out = roundTrip(map);
    assert.ok(out instanceof Map);
    assert.deepEqual([...out.keys()], ["a", 2, { k: 1 }]);
    assert.equal((out.get(2) as Date).getTime(), 5);
    const set = roundTrip(new Set([3, 1, "x", undefined]));
    assert.ok(set instanceof Set);
    assert.deepEqual([...set], [3, 1, "x", undefined]);
  });

  it("keeps built-in errors as their own class with stack and cause", () => {
    const cause = new RangeError("too big");
    const err = new TypeError("bad input", { cause });
    const out = roundTrip(err);
    assert.ok(out instanceof TypeError);
    assert.equal(out.name, "TypeError");
    assert.equal(out.message, "bad input");
    assert.equal(out.stack, err.stack);
    assert.ok(out.cause instanceof RangeError);
    assert.equal((out.cause as Error).message, "too big");
    assert.ok(!Object.keys(out).includes("message"));
    const agg = roundTrip(new AggregateError([new Error("a")], "many"));
    assert.ok(agg instanceof AggregateError);
    assert.equal((agg.errors[0] as Error).message, "a");
  });

  it("keeps the name, code and fields of unregistered error classes", () => {
    const out = roundTrip<unknown>(new InsufficientFunds(30)) as Error & Record<string, unknown>;
    assert.ok(out instanceof Error);
    assert.equal(out.name, "InsufficientFunds");
    assert.equal(out.message, "missing 30");
    assert.equal(out.code, "INSUFFICIENT_FUNDS");
    assert.equal(out.missing, 30);
  });

  it("rebuilds registered error classes", () => {
    const serializer = new TaggedJsonSerializer({ classes: [InsufficientFunds] });
    const out = roundTrip(new InsufficientFunds(7), serializer);
    assert.ok(out instanceof InsufficientFunds);
    assert.equal(out.missing, 7);
    assert.equal(out.code, "INSUFFICIENT_FUNDS");
    assert.equal(out.name, "InsufficientFunds");
  });

  it("rebuilds registered classes without calling the constructor", () => {
    const serializer = new TaggedJsonSerializer({ classes: [Deposited] });
    serializer.register(Counted, "bank.Counted");
    const before = Counted.constructed;
    const value = { events: [new Deposited(100, new Date(1)), new Counted(4)] };
    const out = roundTrip(value, serializer);
    assert.equal(Counted.constructed, before + 1);
    const [deposited, counted] = out.events as [Deposited, Counted];
    assert.ok(deposited instanceof Deposited);
    assert.equal(deposited.describe(), "deposited 100");
    assert.equal(deposited.at.getTime(), 1);
    assert.ok(counted instanceof Counted);
    assert.equal(counted.double, 8);
  });

  it("accepts classes as a record of wire names", () => {
    const a = new TaggedJsonSerializer({ classes: { "v1.Deposited": Deposited } });
    const bytes = a.serialize(new Deposited(1, new Date(0)));
    assert.match(new TextDecoder().decode(bytes), /"v1\.Deposited"/);
    assert.ok(a.deserialize(bytes) instanceof Deposited);
  });

  it("rejects conflicting registrations", () => {
    const serializer = new TaggedJsonSerializer().register(Deposited);
    serializer.register(Deposited);
    assert.throws(() => serializer.register(Counted, "Deposited"), TypeError);
    assert.throws(() => serializer.register(Deposited, "Other"), TypeError);
    assert.throws(() => serializer.register(Counted, ""), TypeError);
  });

  it("escapes plain objects that own the tag key", () => {
    const tricky = { $t: "date", v: 5, nested: { $t: "ref", v: "casty://x/y" }, list: [{ $t: 1 }] };
    assert.deepEqual(roundTrip(tricky), tricky);
    assert.deepEqual(roundTrip({ $t: "object", v: { $t: "undefined" } }), {
      $t: "object",
      v: { $t: "undefined" },
    });
  });

  it("keeps a __proto__ own key as data without touching the prototype", () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const out = roundTrip({ wrap: value, d: new Date(0) }) as { wrap: Record<string, unknown> };
    assert.equal(Object.getPrototypeOf(out.wrap), Object.prototype);
    assert.ok(Object.hasOwn(out.wrap, "__proto__"));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("encodes actor refs by address and resolves them with the callback", () => {
    const serializer = new TaggedJsonSerializer();
    const ref = fakeRef("casty://bank@127.0.0.1:25520/accounts/alice");
    const bytes = serializer.serialize({ type: "getBalance", replyTo: ref, list: [ref] });
    const seen: string[] = [];
    const out = serializer.deserialize(bytes, (uri) => {
      seen.push(uri);
      return fakeRef(uri);
    }) as { replyTo: ActorRef<unknown>; list: ActorRef<unknown>[] };
    assert.ok(isActorRef(out.replyTo));
    assert.equal(out.replyTo.address, ref.address);
    assert.deepEqual(seen, [ref.address, ref.address]);
  });

  it("fails to decode a ref without a resolver", () => {
    const serializer = new TaggedJsonSerializer();
    const bytes = serializer.serialize({ replyTo: fakeRef("casty://bank/a") });
    assert.throws(() => serializer.deserialize(bytes), (err: unknown) => {
      assert.ok(err instanceof SerializationError);
      assert.equal(
        err.message,
        'Cannot deserialize actor ref "casty://bank/a": no ref resolver was given',
      );
      return true;
    });
  });

  it("round-trips a deeply nested mix of everything", () => {
    const serializer = new TaggedJsonSerializer({ classes: [Deposited] });
    const value = {
      id: "acc-1",
      history: [new Deposited(1, new Date(2)), { raw: new Uint8Array([1, 2, 3]) }],
      index: new Map([["x", new Set([1n, 2n])], ["y", new Set<bigint>()]]),
      meta: { missing: undefined, nan: NaN, err: new Error("boom", { cause: { code: 3 } }) },
    };
    const out = roundTrip(value, serializer);
    assert.ok(out.history[0] instanceof Deposited);
    assert.deepEqual(out.history[1], { raw: new Uint8Array([1, 2, 3]) });
    assert.deepEqual(out.index, value.index);
    assert.ok(Object.hasOwn(out.meta, "missing") && Number.isNaN(out.meta.nan));
    assert.deepEqual(out.meta.err.cause, { code: 3 });
  });

  it("does not mutate the input and leaves shared acyclic references alone", () => {
    const shared = { n: 1n };
    const value = { a: shared, b: shared, c: [shared] };
    const out = roundTrip(value);
    assert.deepEqual(out, value);
    assert.equal(value.a.n, 1n);
    assert.equal(typeof value.a.n, "bigint");
  });
});

describe("TaggedJsonSerializer errors", () => {
  it("names the path of a function", () => {
    const err = serializeError({ replyTo: { fn: () => 1 } });
    assert.equal(
      err.message,
      'Cannot serialize value at "value.replyTo.fn": functions are not serializable',
    );
  });

  it("names the path of a symbol inside arrays and odd keys", () => {
    const err = serializeError({ "a b": [1, Symbol("x")] });
    assert.equal(
      err.message,
      'Cannot serialize value at "value["a b"][1]": symbols are not serializable',
    );
  });

  it("names the path inside maps and sets", () => {
    assert.match(serializeError({ m: new Map([["k", () => 1]]) }).message, /"value\.m\["k"\]"/);
    assert.match(serializeError({ s: new Set([1, () => 1]) }).message, /"value\.s\[entry 1\]"/);
  });

  it("rejects instances of unregistered classes", () => {
    const err = serializeError({ x: new Unregistered() });
    assert.equal(
      err.message,
      'Cannot serialize value at "value.x": instances of Unregistered are not serializable (register the class with the serializer)',
    );
    assert.match(serializeError(new Int32Array(2)).message, /Int32Array/);
  });

  it("rejects cycles and recovers for the next call", () => {
    const serializer = new TaggedJsonSerializer();
    const a: Record<string, unknown> = { name: "a" };
    a.self = { back: a };
    const err = serializeError(a, serializer);
    assert.equal(err.message, 'Cannot serialize value at "value.self.back": cycle detected');
    const arr: unknown[] = [];
    arr.push(arr);
    assert.match(serializeError(arr, serializer).message, /"value\[0\]": cycle detected/);
    assert.deepEqual(roundTrip({ ok: a.name }, serializer), { ok: "a" });
  });

  it("rejects invalid UTF-8 and invalid JSON", () => {
    const serializer = new TaggedJsonSerializer();
    assert.throws(
      () => serializer.deserialize(new Uint8Array([0xff, 0xfe, 0x00])),
      SerializationError,
    );
    assert.ok(deserializeError("{not json").cause instanceof SyntaxError);
    assert.throws(() => serializer.deserialize("{}" as unknown as Uint8Array), SerializationError);
  });

  it("rejects unknown tags, unknown classes and malformed tagged values", () => {
    assert.equal(
      deserializeError('{"$t":"wat"}').message,
      'Cannot deserialize value: unknown tag "wat"',
    );
    assert.equal(
      deserializeError('{"$t":"class","n":"Nope","v":{}}').message,
      'Cannot deserialize instance of class "Nope": the class is not registered',
    );
    assert.match(deserializeError('{"$t":"bigint","v":"1.5"}').message, /malformed "bigint"/);
    assert.match(deserializeError('{"$t":"map","v":[[1]]}').message, /malformed "map"/);
    assert.match(deserializeError('{"$t":"number","v":"7"}').message, /malformed "number"/);
    assert.match(deserializeError('[{"$t":"date","v":"x"}]').message, /malformed "date"/);
    assert.match(deserializeError('{"$t":"error","v":{"name":1}}').message, /malformed "error"/);
  });
});

describe("TaggedJsonSerializer fast paths", () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  it("encodes plain JSON as plain JSON text", () => {
    const s = new TaggedJsonSerializer();
    const msg = { type: "deposit", seq: 1, account: "acc-1", amount: 42, note: "coffee" };
    assert.equal(text(s.serialize(msg)), JSON.stringify(msg));
    assert.equal(text(s.serialize([1, "a", [true, null], {}])), '[1,"a",[true,null],{}]');
  });

  it("tags a Date deep inside an otherwise plain object without mutating it", () => {
    const value = { a: 1, b: [{ c: "x" }, { d: [1, 2, { at: new Date(5), e: "y" }] }], f: "z" };
    const before = JSON.stringify(value);
    const s = new TaggedJsonSerializer();
    assert.equal(
      text(s.serialize(value)),
      '{"a":1,"b":[{"c":"x"},{"d":[1,2,{"at":{"$t":"date","v":5},"e":"y"}]}],"f":"z"}',
    );
    assert.equal(JSON.stringify(value), before);
    assert.ok(value.b[1].d![2] !== undefined);
    const out = roundTrip(value, s);
    assert.deepEqual(out, value);
    assert.ok((out.b[1].d![2] as { at: Date }).at instanceof Date);
  });

  it("tags -0, NaN and undefined fields in the middle of plain objects and arrays", () => {
    const s = new TaggedJsonSerializer();
    const value = { a: "x", b: -0, c: 1, d: NaN, e: undefined, f: [1, -0, undefined, NaN, 2] };
    assert.equal(
      text(s.serialize(value)),
      '{"a":"x","b":{"$t":"number","v":"-0"},"c":1,"d":{"$t":"number","v":"NaN"},' +
        '"e":{"$t":"undefined"},"f":[1,{"$t":"number","v":"-0"},{"$t":"undefined"},' +
        '{"$t":"number","v":"NaN"},2]}',
    );
    const out = roundTrip(value, s);
    assert.ok(Object.is(out.b, -0) && Number.isNaN(out.d) && Object.hasOwn(out, "e"));
    assert.ok(Object.is(out.f[1], -0) && out.f.length === 5 && 2 in out.f);
    assert.ok(Object.is(value.b, -0) && value.f.length === 5);
  });

  it("escapes a tag-named key wherever it appears, also non-enumerable and null-prototype", () => {
    const s = new TaggedJsonSerializer();
    assert.equal(
      text(s.serialize({ a: [{ x: 1, $t: "date" }] })),
      '{"a":[{"$t":"object","v":{"x":1,"$t":"date"}}]}',
    );
    const hidden = Object.defineProperty({ a: 1 }, "$t", { value: "x", enumerable: false });
    assert.equal(text(s.serialize(hidden)), '{"$t":"object","v":{"a":1}}');
    const bare = Object.assign(Object.create(null), { $t: "ref", v: "casty://x/y" });
    assert.deepEqual(roundTrip(bare, s), { $t: "ref", v: "casty://x/y" });
    assert.deepEqual(roundTrip({ k: { "$t": undefined, n: -0 } }, s), {
      k: { $t: undefined, n: -0 },
    });
  });

  it("rejects a cycle through an array with its path", () => {
    const a: Record<string, unknown> = { name: "a" };
    a.list = [1, { x: a }];
    assert.equal(
      serializeError(a).message,
      'Cannot serialize value at "value.list[1].x": cycle detected',
    );
    const arr: unknown[] = [1];
    arr.push({ inner: [arr] });
    assert.equal(
      serializeError([arr]).message,
      'Cannot serialize value at "value[0][1].inner[0]": cycle detected',
    );
  });

  it("handles deep acyclic structures, cycles deep down and shared references deep down", () => {
    const s = new TaggedJsonSerializer();
    let deep: unknown = { leaf: new Date(1), n: 10n };
    for (let i = 0; i < 1000; i++) deep = i % 2 ? { next: deep } : [i, deep];
    assert.deepEqual(roundTrip(deep, s), deep);

    const shared = { n: 1 };
    let withShared: unknown = { a: shared, b: shared, c: [shared, shared] };
    for (let i = 0; i < 100; i++) withShared = { next: withShared, also: shared };
    assert.deepEqual(roundTrip(withShared, s), withShared);

    for (const depth of [5, 31, 32, 33, 100]) {
      const root: Record<string, unknown> = {};
      let cur = root;
      for (let i = 0; i < depth; i++) {
        const next: Record<string, unknown> = {};
        cur.x = next;
        cur = next;
      }
      cur.back = root;
      assert.equal(
        serializeError(root, s).message,
        `Cannot serialize value at "value${".x".repeat(depth)}.back": cycle detected`,
      );
      const mid: Record<string, unknown> = { x: root.x };
      cur.back = mid; // a cycle that does not go through the root
      assert.match(serializeError(root, s).message, /\.back\.x.*: cycle detected/);
      cur.back = 1;
      assert.deepEqual(roundTrip(root, s), root); // the walk's state was reset
    }
  });

  it("returns independent bytes for every call, small, large and non-ASCII", () => {
    const s = new TaggedJsonSerializer();
    const values: unknown[] = [];
    for (let i = 0; i < 3000; i++) {
      values.push(
        i % 3 === 0
          ? { i, note: "héllo ✓ 🎉".repeat(i % 7) }
          : i % 3 === 1
          ? { i, big: "x".repeat(i * 7) }
          : [i, -0],
      );
    }
    const encoded = values.map((v) => s.serialize(v));
    for (let i = 0; i < values.length; i++) {
      assert.equal(text(encoded[i]), text(s.serialize(values[i])));
      assert.deepEqual(s.deserialize(encoded[i]), values[i]);
    }
    encoded[0].fill(0x20);
    assert.deepEqual(s.deserialize(encoded[1]), values[1]);
  });

  it("keeps a genuine U+FFFD and rejects every kind of invalid UTF-8", () => {
    const s = new TaggedJsonSerializer();
    assert.deepEqual(roundTrip({ s: "a\uFFFDb", t: "\uFFFD" }, s), { s: "a\uFFFDb", t: "\uFFFD" });
    const quoted = (...bytes: number[]) => new Uint8Array([0x22, ...bytes, 0x22]);
    for (
      const bad of [
        quoted(0x61, 0xff),
        quoted(0xc0, 0xaf), // overlong
        quoted(0xed, 0xa0, 0x80), // surrogate
        quoted(0xf4, 0x90, 0x80, 0x80), // above U+10FFFF
        quoted(0xe2, 0x82), // truncated
        new Uint8Array([0x22, 0x61, 0x22, 0x80]),
      ]
    ) {
      assert.throws(() => s.deserialize(bad), (e: unknown) => {
        assert.ok(e instanceof SerializationError);
        assert.match(e.message, /not valid UTF-8 JSON/);
        assert.ok(e.cause instanceof TypeError, String(e.cause));
        return true;
      });
    }
    assert.equal(s.deserialize(quoted(0xef, 0xbf, 0xbd)), "\uFFFD");
  });

  it("serializedText is the text of serialize's bytes, only where serialize is the default", () => {
    class Registered {
      constructor(readonly at: Date) {}
    }
    const s = new TaggedJsonSerializer({ classes: [Registered] });
    const values: unknown[] = [
      { type: "deposit", note: 'say "hi"\\ \n' },
      "nul \u0000 and lone \ud800 surrogate",
      "ünïcödé 🎉",
      new Registered(new Date(0)),
      [undefined, NaN, -0, 1n, new Map([[1, new Set([2])]])],
    ];
    for (const value of values) {
      const text = serializedText(s, value)!;
      assert.equal(typeof text, "string");
      assert.ok(!text.includes("\u0000"), "no raw NUL in the text");
      assert.deepEqual(new TextEncoder().encode(text), s.serialize(value));
    }
    assert.throws(() => serializedText(s, { f: () => 1 }), {
      name: "SerializationError",
      message: 'Cannot serialize value at "value.f": functions are not serializable',
    });
    // A subclass that keeps serialize has the text form; one that overrides it does not.
    class Plain extends TaggedJsonSerializer {}
    class Upper extends TaggedJsonSerializer {
      override serialize(value: unknown): Uint8Array {
        return super.serialize(typeof value === "string" ? value.toUpperCase() : value);
      }
    }
    assert.equal(serializedText(new Plain(), "a"), '"a"');
    assert.equal(serializedText(new Upper(), "a"), undefined);
    const custom = { serialize: () => new Uint8Array([1]), deserialize: () => 1 };
    assert.equal(serializedText(custom, "a"), undefined);
  });
});

describe("TaggedJsonSerializer decode limits", () => {
  const bytesOf = (json: string) => new TextEncoder().encode(json);
  const decodeError = (s: TaggedJsonSerializer, bytes: Uint8Array): SerializationError => {
    try {
      s.deserialize(bytes);
    } catch (err) {
      assert.ok(err instanceof SerializationError, String(err));
      return err;
    }
    assert.fail("expected a SerializationError");
  };

  it("refuses a million-digit bigint quickly with a clear error", () => {
    const s = new TaggedJsonSerializer();
    const frame = bytesOf(`{"a":1,"n":{"$t":"bigint","v":"-${"7".repeat(1_000_000)}"}}`);
    const started = performance.now();
    const err = decodeError(s, frame);
    const elapsed = performance.now() - started;
    assert.equal(
      err.message,
      "Cannot deserialize bigint: 1000000 digits, more than the limit of 10000 (maxBigIntDigits)",
    );
    // Refusing costs the JSON parse of 1 MB; parsing the digits costs far more (0.3-1.6 s). Both
    // are measured in this run, so a loaded machine slows them alike.
    const t0 = performance.now();
    assert.ok(BigInt(`-${"7".repeat(1_000_000)}`) < 0n);
    const parsing = performance.now() - t0;
    assert.ok(
      elapsed < parsing / 4,
      `refusing took ${elapsed.toFixed(1)} ms, parsing the digits ${parsing.toFixed(1)} ms`,
    );
    assert.deepEqual(s.deserialize(bytesOf(`{"n":{"$t":"bigint","v":"12"}}`)), { n: 12n });
  });

  it("accepts bigints up to the limit and takes the limit as an option", () => {
    const max = 10n ** 9_999n; // 10,000 digits
    assert.equal(roundTrip(-max), -max);
    const s = new TaggedJsonSerializer({ limits: { maxBigIntDigits: 3 } });
    assert.equal(roundTrip(-999n, s), -999n);
    assert.match(decodeError(s, s.serialize(1000n)).message, /4 digits, .*limit of 3/);
  });

  it("refuses nesting beyond maxDepth, and stays usable", () => {
    const s = new TaggedJsonSerializer();
    const deep = bytesOf("[".repeat(100_000) + "]".repeat(100_000));
    assert.equal(
      decodeError(s, deep).message,
      "Cannot deserialize value: nested deeper than the limit of 2048 (maxDepth)",
    );
    const shallow = new TaggedJsonSerializer({ limits: { maxDepth: 3 } });
    assert.deepEqual(roundTrip({ a: [{ b: 1 }] }, shallow), { a: [{ b: 1 }] });
    assert.match(decodeError(shallow, bytesOf(`{"a":[{"b":[]}]}`)).message, /limit of 3/);
    assert.match(
      decodeError(shallow, shallow.serialize({ a: new Map([[1, new Set([new Set()])]]) })).message,
      /limit of 3/,
    );
    assert.deepEqual(roundTrip({ a: [{ b: 1 }] }, shallow), { a: [{ b: 1 }] }, "state was reset");
  });

  it("refuses more entries than maxEntries, counting every container", () => {
    const s = new TaggedJsonSerializer({ limits: { maxEntries: 10 } });
    assert.deepEqual(roundTrip([1, 2, 3, { a: 1, b: [1, 2] }], s), [1, 2, 3, { a: 1, b: [1, 2] }]);
    for (
      const value of [
        Array.from({ length: 11 }, (_, i) => i),
        { a: [1, 2, 3, 4, 5], b: { c: 1, d: 2, e: 3, f: 4 } },
        new Map(Array.from({ length: 6 }, (_, i) => [i, [i]])),
        new Set(Array.from({ length: 11 }, (_, i) => i)),
      ]
    ) {
      assert.equal(
        decodeError(s, s.serialize(value)).message,
        "Cannot deserialize value: more than the limit of 10 entries (maxEntries)",
      );
    }
    assert.deepEqual(roundTrip([1, 2], s), [1, 2], "the count starts again for each value");
  });

  it("rejects invalid limits", () => {
    assert.throws(
      () => new TaggedJsonSerializer({ limits: { maxDepth: 0 } }),
      { name: "RangeError", message: "Decode limit maxDepth must be a positive integer, got 0" },
    );
    assert.throws(
      () => new TaggedJsonSerializer({ limits: { maxDepht: 3 } as never }),
      { name: "TypeError", message: 'Unknown decode limit "maxDepht"' },
    );
  });

  it("refuses one oversized message on a real connection and delivers the next ones", async () => {
    await using receiver = await startLocalNode("limits");
    await using sender = await startLocalNode("limits");
    const got: unknown[] = [];
    receiver.spawn(Behaviors.receive<unknown>((_c, m) => void got.push(m)), "inbox");
    const dead: DeadLetter[] = [];
    receiver.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const inbox = sender.lookup<unknown>(
      `casty://limits@127.0.0.1:${receiver.selfAddress.port}/inbox`,
    )!;
    inbox.tell({ n: 1n });
    inbox.tell({ n: 10n ** 999_999n }); // a million digits
    inbox.tell({ n: 3n });
    await waitFor(() => got.length >= 2 && dead.length >= 1, {
      timeout: 10_000,
      describe: () => `two messages and a DeadLetter, got ${got.length} and ${dead.length}`,
    });
    assert.deepEqual(got, [{ n: 1n }, { n: 3n }]);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].reason, "serialization");
    assert.match(dead[0].detail ?? "", /1000000 digits, more than the limit of 10000/);
    assert.ok(dead[0].message instanceof Uint8Array, "the dead letter keeps the bytes");
  });
});
