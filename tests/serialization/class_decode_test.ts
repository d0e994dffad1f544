// Decoding of registered class instances: a field is set by plain assignment only when nothing in
// the prototype chain has its key, so hostile payloads still cannot call a setter, pollute a
// prototype or trip over a read-only or getter-only member; and every shape round-trips inside a
// class instance (the path a ShardEnvelope takes on the remote path).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SerializationError } from "../../src/serialization/errors.ts";
import { type Serializer, TaggedJsonSerializer } from "../../src/serialization/serialization.ts";
import { ShardEnvelope } from "../../src/sharding/shard_envelope.ts";
import { Behaviors, DeadLetter } from "../../mod.ts";
import { startLocalNode, waitFor } from "../_helpers/probe.ts";

const text = new TextEncoder();

let setterCalls = 0;

class Base {
  set inherited(_v: unknown) {
    setterCalls++;
  }
}

class Account extends Base {
  constructor(readonly id: string, readonly balance: number) {
    super();
  }
  set owner(_v: unknown) {
    setterCalls++;
  }
  get total(): number {
    return this.balance;
  }
}
Object.defineProperty(Account.prototype, "frozenKind", { value: "account", writable: false });

class Deposit {
  constructor(readonly amount: number, readonly note: string) {}
}

function serializer(): TaggedJsonSerializer {
  return new TaggedJsonSerializer()
    .register(Account, "bank.Account")
    .register(Deposit, "bank.Deposit")
    .register(ShardEnvelope, "casty.ShardEnvelope");
}

function classPayload(name: string, fieldsJson: string): Uint8Array {
  return text.encode(`{"$t":"class","n":${JSON.stringify(name)},"v":${fieldsJson}}`);
}

function ownData(obj: object, key: string): PropertyDescriptor {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  assert.ok(d !== undefined, `own field ${key}`);
  return d;
}

describe("TaggedJsonSerializer: class decoding", () => {
  it("sets fields as own writable, enumerable, configurable data, in payload order", () => {
    const out = serializer().deserialize(classPayload("bank.Account", '{"id":"a","balance":5}'));
    assert.ok(out instanceof Account);
    assert.deepEqual(Object.keys(out), ["id", "balance"]);
    for (const key of ["id", "balance"]) {
      const d = ownData(out, key);
      assert.equal(d.writable, true);
      assert.equal(d.enumerable, true);
      assert.equal(d.configurable, true);
    }
    assert.equal(out.total, 5);
  });

  it("never calls a setter of the class or of a base class, and shadows it with data", () => {
    const before = setterCalls;
    const out = serializer().deserialize(
      classPayload("bank.Account", '{"id":"a","balance":1,"owner":"mallory","inherited":7}'),
    ) as unknown as Record<string, unknown>;
    assert.equal(setterCalls, before, "no setter ran");
    assert.equal(ownData(out, "owner").value, "mallory");
    assert.equal(ownData(out, "inherited").value, 7);
    // The prototypes keep their accessors.
    assert.equal(
      typeof Object.getOwnPropertyDescriptor(Account.prototype, "owner")?.set,
      "function",
    );
    assert.equal(
      typeof Object.getOwnPropertyDescriptor(Base.prototype, "inherited")?.set,
      "function",
    );
  });

  it("overrides a getter-only accessor and a read-only prototype field without throwing", () => {
    const out = serializer().deserialize(
      classPayload("bank.Account", '{"id":"a","balance":1,"total":99,"frozenKind":"evil"}'),
    ) as Account & { frozenKind: string };
    assert.equal(out.total, 99);
    assert.equal(out.frozenKind, "evil");
    assert.equal((Account.prototype as unknown as { frozenKind: string }).frozenKind, "account");
    assert.equal(
      Object.getOwnPropertyDescriptor(Account.prototype, "total")?.get !== undefined,
      true,
    );
  });

  it("keeps __proto__, constructor and Object.prototype's keys as own data of the instance", () => {
    const out = serializer().deserialize(
      classPayload(
        "bank.Account",
        '{"__proto__":{"polluted":true},"constructor":"x","toString":1,"hasOwnProperty":2}',
      ),
    ) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Account.prototype, "the prototype is unchanged");
    assert.deepEqual(ownData(out, "__proto__").value, { polluted: true });
    assert.equal(ownData(out, "constructor").value, "x");
    assert.equal(ownData(out, "toString").value, 1);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.prototype.toString.name, "toString");
    assert.equal(Account.prototype.constructor, Account);
  });

  it("does not call a setter someone put on Object.prototype", () => {
    let called = 0;
    Object.defineProperty(Object.prototype, "serde5Trap", {
      set(_v: unknown) {
        called++;
      },
      configurable: true,
    });
    try {
      const out = serializer().deserialize(
        classPayload("bank.Deposit", '{"amount":1,"serde5Trap":"boom"}'),
      ) as Record<string, unknown>;
      assert.equal(called, 0);
      assert.equal(ownData(out, "serde5Trap").value, "boom");
    } finally {
      delete (Object.prototype as Record<string, unknown>).serde5Trap;
    }
  });

  it("does not pollute prototypes through nested classes, errors and maps", () => {
    const s = serializer();
    const payload = text.encode(
      JSON.stringify({
        $t: "class",
        n: "casty.ShardEnvelope",
        v: {
          entityId: "e",
          message: {
            $t: "error",
            v: { name: "Error", message: "m", fields: { __proto__x: 1, constructor: 2 } },
          },
        },
      }).replace('"__proto__x"', '"__proto__"'),
    );
    const out = s.deserialize(payload) as ShardEnvelope<Error & Record<string, unknown>>;
    assert.ok(out instanceof ShardEnvelope);
    assert.ok(out.message instanceof Error);
    assert.equal(Object.getPrototypeOf(out.message), Error.prototype);
    assert.equal(ownData(out.message, "__proto__").value, 1);
    assert.equal(Error.prototype.constructor, Error);
  });

  it("round-trips every serializable shape as a ShardEnvelope's message", () => {
    const s = serializer();
    const resolve = (uri: string) => ({ address: uri }) as never;
    const shapes: unknown[] = [
      null,
      true,
      0,
      -0,
      NaN,
      Infinity,
      -Infinity,
      1.5,
      "",
      "é 😀 \uFFFD",
      undefined,
      12345678901234567890n,
      -1n,
      new Date(0),
      new Date(NaN),
      new Uint8Array([0, 1, 255]),
      new Map<unknown, unknown>([["k", 1], [2n, new Set([1])]]),
      new Set(["a", undefined]),
      [1, [2, [3]], { a: undefined }],
      { $t: "escaped", v: 1, nested: { $t: "ref" } },
      { type: "deposit", amount: 42, at: new Date(5) },
      new Deposit(42, "coffee"),
      new Account("acc", 7),
      new ShardEnvelope("inner", new Deposit(1, "x")),
      new RangeError("bad", { cause: new Deposit(2, "y") }),
    ];
    for (const shape of shapes) {
      const out = s.deserialize(s.serialize(new ShardEnvelope("id-1", shape)), resolve);
      assert.ok(out instanceof ShardEnvelope);
      assert.equal(out.entityId, "id-1");
      if (shape instanceof Error) {
        assert.ok(out.message instanceof RangeError);
        assert.equal(out.message.message, "bad");
        assert.deepEqual(out.message.cause, shape.cause);
      } else {
        assert.deepEqual(out.message, shape);
      }
    }
  });

  it("counts class fields towards maxEntries", () => {
    const limited = new TaggedJsonSerializer({ limits: { maxEntries: 3 } })
      .register(Account, "bank.Account");
    assert.ok(limited.deserialize(classPayload("bank.Account", '{"id":"a","balance":1}')));
    assert.throws(
      () => limited.deserialize(classPayload("bank.Account", '{"a":1,"b":2,"c":3,"d":4}')),
      (err: unknown) => err instanceof SerializationError && /maxEntries/.test(err.message),
    );
  });

  it("rejects malformed class payloads with a clear error", () => {
    const s = serializer();
    const cases: [string, RegExp][] = [
      ['{"$t":"class","n":"casty.ShardEnvelope","v":[1,2]}', /malformed "class" tagged value/],
      ['{"$t":"class","n":"casty.ShardEnvelope","v":"x"}', /malformed "class" tagged value/],
      ['{"$t":"class","n":7,"v":{}}', /malformed "class" tagged value/],
      ['{"$t":"class","n":"nope","v":{}}', /class "nope": the class is not registered/],
      ['{"$t":"class","n":"casty.ShardEnvelope","v":{"entityId":', /not valid UTF-8 JSON/],
    ];
    for (const [payload, message] of cases) {
      assert.throws(
        () => s.deserialize(text.encode(payload)),
        (err: unknown) => err instanceof SerializationError && message.test(err.message),
        payload,
      );
    }
  });
});

/** Sends the bytes of a `{ raw }` message as they are; everything else as the default does. */
class RawSerializer implements Serializer {
  readonly #inner = new TaggedJsonSerializer().register(ShardEnvelope, "casty.ShardEnvelope");
  serialize(value: unknown): Uint8Array {
    const raw = (value as { raw?: unknown } | null)?.raw;
    return typeof raw === "string" ? text.encode(raw) : this.#inner.serialize(value);
  }
  deserialize(bytes: Uint8Array, resolveRef?: (uri: string) => never): unknown {
    return this.#inner.deserialize(bytes, resolveRef);
  }
}

describe("hostile class payloads on a real connection", () => {
  it("become serialization DeadLetters with their bytes; good envelopes around them arrive", async () => {
    await using receiver = await startLocalNode("hostile", {
      serializer: new TaggedJsonSerializer().register(ShardEnvelope, "casty.ShardEnvelope"),
    });
    await using sender = await startLocalNode("hostile", { serializer: new RawSerializer() });
    const got: unknown[] = [];
    receiver.spawn(Behaviors.receive<unknown>((_c, m) => void got.push(m)), "inbox");
    const dead: DeadLetter[] = [];
    receiver.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const inbox = sender.lookup<unknown>(
      `casty://hostile@127.0.0.1:${receiver.selfAddress.port}/inbox`,
    )!;
    const bad = [
      '{"$t":"class","n":"casty.ShardEnvelope","v":[1]}',
      '{"$t":"class","n":"casty.Nope","v":{}}',
      '{"$t":"class","n":"casty.ShardEnvelope","v":{"entityId":"x"',
    ];
    inbox.tell(new ShardEnvelope("a", { n: 1 }));
    for (const raw of bad) inbox.tell({ raw });
    inbox.tell({
      raw: '{"$t":"class","n":"casty.ShardEnvelope","v":{"entityId":"b","__proto__":{"p":1}}}',
    });
    inbox.tell(new ShardEnvelope("c", { n: 3 }));
    await waitFor(() => got.length >= 3 && dead.length >= bad.length, {
      timeout: 10_000,
      describe: () =>
        `three messages and ${bad.length} DeadLetters, got ${got.length}, ${dead.length}`,
    });
    assert.equal(got.length, 3);
    const [a, b, c] = got as ShardEnvelope<unknown>[];
    assert.ok(a instanceof ShardEnvelope && a.entityId === "a");
    assert.ok(b instanceof ShardEnvelope && b.entityId === "b");
    assert.equal(Object.getPrototypeOf(b), ShardEnvelope.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(b, "__proto__")?.value, { p: 1 });
    assert.ok(c instanceof ShardEnvelope && c.entityId === "c");
    assert.equal(dead.length, bad.length);
    for (let i = 0; i < bad.length; i++) {
      assert.equal(dead[i].reason, "serialization");
      assert.ok(dead[i].message instanceof Uint8Array, "the dead letter keeps the bytes");
      assert.equal(new TextDecoder().decode(dead[i].message as Uint8Array), bad[i]);
    }
    assert.match(dead[0].detail ?? "", /malformed "class" tagged value/);
    assert.match(dead[1].detail ?? "", /class "casty\.Nope": the class is not registered/);
    assert.match(dead[2].detail ?? "", /not valid UTF-8 JSON/);
  });
});
