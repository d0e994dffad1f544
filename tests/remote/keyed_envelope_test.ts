// The keyed wire form of a ShardEnvelope ([0x01][u16 BE id length][id UTF-8][message JSON]):
// what a node sends with the default serializer, that it decodes to the same envelope as the
// full tagged form (refs, limits, odd ids included), that a malformed keyed payload becomes a
// `serialization` DeadLetter with a clear reason while the link keeps working, and that a
// custom serializer keeps the full form. Real nodes on 127.0.0.1.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Serializer, TaggedJsonSerializer } from "../../src/serialization/serialization.ts";
import { ShardEnvelope } from "../../src/sharding/shard_envelope.ts";
import { ShardForward } from "../../src/sharding/shard_region.ts";
import { type ActorRef, Behaviors, DeadLetter } from "../../mod.ts";
import { startLocalNode, waitFor } from "../_helpers/probe.ts";
import { startTransportNode } from "../_helpers/transport_node.ts";

const utf8 = new TextEncoder();

class Point {
  constructor(readonly x: number, readonly y: number) {}
}

function defaultSerializer(limits?: { maxDepth?: number }): TaggedJsonSerializer {
  return new TaggedJsonSerializer({ limits })
    .register(ShardEnvelope, "casty.ShardEnvelope")
    .register(ShardForward, "casty.ShardForward")
    .register(Point, "test.Point");
}

/** The default serializer, but `{ bytes }` is sent as those very bytes (a hostile sender). */
class BytesSerializer extends TaggedJsonSerializer {
  constructor() {
    super();
    this.register(ShardEnvelope, "casty.ShardEnvelope").register(ShardForward, "casty.ShardForward")
      .register(Point, "test.Point");
  }
  override serialize(value: unknown): Uint8Array {
    const bytes = (value as { bytes?: unknown } | null)?.bytes;
    return bytes instanceof Uint8Array ? bytes : super.serialize(value);
  }
}

/** The default serializer that records the payloads it is given (a custom one for remoting). */
class RecordingSerializer implements Serializer {
  readonly seen: Uint8Array[] = [];
  readonly #inner = defaultSerializer();
  serialize(value: unknown): Uint8Array {
    return this.#inner.serialize(value);
  }
  deserialize(bytes: Uint8Array, resolveRef?: (uri: string) => ActorRef<unknown>): unknown {
    this.seen.push(bytes.slice());
    return this.#inner.deserialize(bytes, resolveRef);
  }
}

function keyed(id: Uint8Array | string, message: Uint8Array | string, marker = 0x01): Uint8Array {
  const key = typeof id === "string" ? utf8.encode(id) : id;
  const body = typeof message === "string" ? utf8.encode(message) : message;
  return new Uint8Array([marker, key.length >>> 8, key.length & 0xff, ...key, ...body]);
}

/**
 * The payloads a bare transport node gets for `/inbox` (once it has `count` of them) from what
 * `send` tells it through a node with the default serializer and one with `BytesSerializer`.
 */
async function sentPayloads(
  count: number,
  send: (plain: ActorRef<unknown>, custom: ActorRef<unknown>) => void,
): Promise<number[][]> {
  const wire = await startTransportNode("keyed");
  try {
    await using plain = await startLocalNode("keyed", { serializer: defaultSerializer() });
    await using custom = await startLocalNode("keyed", { serializer: new BytesSerializer() });
    const at = `casty://keyed@127.0.0.1:${wire.transport.selfAddress.port}/inbox`;
    send(plain.lookup<unknown>(at)!, custom.lookup<unknown>(at)!);
    const payloads = () =>
      wire.inbound.filter((i) => i.envelope.recipient === "/inbox").map((i) => [
        ...i.envelope.payload,
      ]);
    await waitFor(() => payloads().length >= count, {
      timeout: 10_000,
      describe: () => `${count} envelopes, got ${payloads().length}`,
    });
    return payloads();
  } finally {
    await wire.transport.shutdown();
  }
}

/**
 * A node with `serializer` given raw payloads by a bare transport (remoting would escape them):
 * `first`, each `bad` one, then `last`. Each bad one is a `serialization` DeadLetter keeping its
 * bytes, with a detail matching its pattern; the others arrive as `expected`, of their classes;
 * the link stays up.
 */
async function assertMalformedAreDeadLetters(
  serializer: Serializer,
  payloads: {
    first: Uint8Array[];
    bad: [Uint8Array, RegExp][];
    last: Uint8Array[];
    expected: unknown[];
  },
) {
  const { first, bad, last, expected } = payloads;
  await using receiver = await startLocalNode("keyed", { serializer });
  const got: unknown[] = [];
  receiver.spawn(Behaviors.receive<unknown>((_c, m) => void got.push(m)), "inbox");
  const dead: DeadLetter[] = [];
  receiver.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
  const raw = await startTransportNode("keyed");
  try {
    const send = (payload: Uint8Array) =>
      raw.transport.send(receiver.selfAddress, { recipient: "/inbox", payload });
    for (const bytes of first) send(bytes);
    for (const [bytes] of bad) send(bytes);
    for (const bytes of last) send(bytes);
    await waitFor(() => got.length >= expected.length && dead.length >= bad.length, {
      timeout: 10_000,
      describe: () =>
        `${expected.length} messages and ${bad.length} DeadLetters, got ${got.length}, ${dead.length}`,
    });
    assert.deepEqual(got, expected);
    for (let i = 0; i < got.length; i++) {
      assert.equal(Object.getPrototypeOf(got[i]), Object.getPrototypeOf(expected[i]));
    }
    assert.equal(dead.length, bad.length);
    for (let i = 0; i < bad.length; i++) {
      const d = dead[i];
      assert.equal(d.reason, "serialization");
      assert.deepEqual(d.message, bad[i][0], `DeadLetter ${i} keeps the bytes`);
      assert.match(String(d.detail), bad[i][1], `DeadLetter ${i}: ${d.detail}`);
    }
    assert.equal(raw.transport.peerCount, 1, "the link stays up");
  } finally {
    await raw.transport.shutdown();
  }
}

/**
 * Sends every case through `pair` and checks that the first `checked` arrive as the full form
 * decodes them: equal, of the same class, their fields in order `fields`.
 */
async function assertDecodesAsFullForm(
  pair: Awaited<ReturnType<typeof inboxPair>>,
  cases: readonly object[],
  checked: number,
  fields: readonly string[],
) {
  for (const c of cases) pair.inbox.tell(c);
  await waitFor(() => pair.got.length >= cases.length, {
    timeout: 10_000,
    describe: () => `${cases.length} messages, got ${pair.got.length}: ${pair.dead[0]?.detail}`,
  });
  assert.equal(pair.dead.length, 0);
  const full = defaultSerializer();
  for (let i = 0; i < checked; i++) {
    const got = pair.got[i] as object;
    assert.equal(Object.getPrototypeOf(got), Object.getPrototypeOf(cases[i]), `case ${i}'s class`);
    assert.deepEqual(Object.keys(got), fields);
    assert.deepEqual(got, full.deserialize(full.serialize(cases[i])), `case ${i}`);
  }
}

/**
 * `message` (a keyed class) sent to a node with another serializer arrives equal, of its class,
 * that serializer having been given the full form byte for byte.
 */
async function assertFullFormReaches(message: ShardEnvelope<unknown> | ShardForward) {
  const recording = new RecordingSerializer();
  await using pair = await inboxPair(recording);
  pair.inbox.tell(message);
  await waitFor(() => pair.got.length >= 1, { timeout: 10_000, what: "the message" });
  assert.deepEqual(pair.got, [message]);
  assert.equal(Object.getPrototypeOf(pair.got[0]), Object.getPrototypeOf(message));
  const full = defaultSerializer().serialize(message).join();
  assert.ok(recording.seen.some((b) => b.join() === full), "the serializer saw the full form");
  assert.equal(pair.dead.length, 0);
}

async function inboxPair(
  receiverSerializer: Serializer,
  senderSerializer: Serializer = defaultSerializer(),
) {
  const receiver = await startLocalNode("keyed", { serializer: receiverSerializer });
  const sender = await startLocalNode("keyed", { serializer: senderSerializer });
  const got: unknown[] = [];
  receiver.spawn(Behaviors.receive<unknown>((_c, m) => void got.push(m)), "inbox");
  const dead: DeadLetter[] = [];
  receiver.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
  const inbox = sender.lookup<unknown>(
    `casty://keyed@127.0.0.1:${receiver.selfAddress.port}/inbox`,
  )!;
  return {
    receiver,
    sender,
    got,
    dead,
    inbox,
    async [Symbol.asyncDispose]() {
      await sender.shutdown();
      await receiver.shutdown();
    },
  };
}

describe("ShardEnvelope's keyed wire form", () => {
  it("is what a node with the default serializer sends; other bytes starting with a marker are escaped", async () => {
    const got = await sentPayloads(6, (plain, custom) => {
      plain.tell(new ShardEnvelope("e12", { type: "inc" }));
      plain.tell({ type: "plain" });
      custom.tell(new ShardEnvelope("e12", 1)); // a custom serializer: the full form
      custom.tell({ bytes: new Uint8Array([0x01, 9]) });
      custom.tell({ bytes: new Uint8Array([0x02]) });
      custom.tell({ bytes: new Uint8Array([0x00, 0x03]) });
    });
    assert.deepEqual(got[0], [...keyed("e12", '{"type":"inc"}')]);
    assert.deepEqual(got[1], [...utf8.encode('{"type":"plain"}')]);
    // From one sender, in order; the other sender's envelopes may come first.
    const fromCustom = got.filter((p) => p[0] <= 0x02 && p.length <= 3);
    const full = [...defaultSerializer().serialize(new ShardEnvelope("e12", 1))];
    assert.ok(got.some((p) => p.join() === full.join()), "the full form from a custom serializer");
    assert.deepEqual(fromCustom, [[0x02, 0x01, 9], [0x02, 0x02], [0x00, 0x03]]);
  });

  it("reaches a node with another serializer in the full form it would have received before", async () => {
    await assertFullFormReaches(new ShardEnvelope("e12", { type: "inc", at: new Date(5) }));
  });

  it("decodes to the envelope the full form gives, whatever the id and message", async () => {
    await using pair = await inboxPair(defaultSerializer());
    const replies: string[] = [];
    const echo = pair.sender.spawn(
      Behaviors.receive<string>((_c, m) => void replies.push(m)),
      "echo",
    );
    const cases: ShardEnvelope<unknown>[] = [
      new ShardEnvelope("e12", { type: "inc" }),
      new ShardEnvelope("", { type: "empty id" }),
      new ShardEnvelope("entité-日本-🎉", [1, "two", { three: 3n }]),
      new ShardEnvelope("lone-\ud800-surrogate", "sent in the full form, arrives intact"),
      new ShardEnvelope("x".repeat(30_000), "an id too long for the keyed form"),
      new ShardEnvelope("u", undefined),
      new ShardEnvelope("n", null),
      new ShardEnvelope("p", new Point(1, 2)),
      new ShardEnvelope("m", new Map([["k", new Set([new Date(0)])]])),
      new ShardEnvelope("nested", new ShardEnvelope("inner", { n: -0 })),
      new ShardEnvelope("bytes", new Uint8Array([0x01, 0, 3])),
      new ShardEnvelope("ref", { replyTo: echo }),
    ];
    // (The last case, a ref, is checked below: it decodes to a new ref, not an equal one.)
    await assertDecodesAsFullForm(pair, cases, cases.length - 1, ["entityId", "message"]);
    // A ref inside the message resolves to a working ref back to the sender.
    const withRef = pair.got[cases.length - 1] as ShardEnvelope<{ replyTo: ActorRef<string> }>;
    withRef.message.replyTo.tell("pong");
    await waitFor(() => replies.length === 1, { timeout: 10_000, what: "the reply" });
    assert.deepEqual(replies, ["pong"]);
  });

  it("keeps the decode limits of the full form: the message is one level down", async () => {
    // maxDepth 3: the envelope (1), the message (2), one container inside it (3).
    await using pair = await inboxPair(defaultSerializer({ maxDepth: 3 }));
    pair.inbox.tell(new ShardEnvelope("ok", { a: [1] }));
    pair.inbox.tell(new ShardEnvelope("deep", { a: [[1]] }));
    pair.inbox.tell(new ShardEnvelope("after", 1));
    await waitFor(() => pair.got.length >= 2 && pair.dead.length >= 1, {
      timeout: 10_000,
      what: "two messages and a DeadLetter",
    });
    assert.deepEqual(pair.got.map((e) => (e as ShardEnvelope<unknown>).entityId), ["ok", "after"]);
    assert.equal(pair.dead.length, 1);
    assert.equal(pair.dead[0].reason, "serialization");
    assert.match(String(pair.dead[0].detail), /maxDepth/);
    // The same message in the full form fails the same way.
    const full = defaultSerializer({ maxDepth: 3 });
    assert.throws(
      () =>
        full.deserialize(defaultSerializer().serialize(new ShardEnvelope("deep", { a: [[1]] }))),
      /maxDepth/,
    );
  });

  it("turns malformed keyed payloads into DeadLetters with their bytes; the link keeps working", async () => {
    await assertMalformedAreDeadLetters(defaultSerializer(), {
      first: [keyed("first", "1")],
      bad: [
        [new Uint8Array([0x01]), /shorter than its header/],
        [new Uint8Array([0x01, 0]), /shorter than its header/],
        [new Uint8Array([0x01, 0, 5, 0x61, 0x31]), /key overruns the payload/],
        [keyed(new Uint8Array([0xff, 0xfe]), "1"), /key is not valid UTF-8/],
        [keyed("e1", "{"), /not valid UTF-8 JSON/],
        [keyed("e1", ""), /not valid UTF-8 JSON/],
        [keyed("e1", new Uint8Array([0x22, 0xff, 0x22])), /not valid UTF-8 JSON/],
        [
          keyed("e1", '{"$t":"class","n":"nope.Nope","v":{}}'),
          /class "nope\.Nope".*not registered/,
        ],
        [keyed("e1", '{"$t":"ref","v":"not a uri"}'), /not a uri/],
        [new Uint8Array([0x02]), /not valid UTF-8 JSON/],
        [new Uint8Array([0x02, 0x01]), /not valid UTF-8 JSON/],
      ],
      last: [new Uint8Array([0x02, ...utf8.encode('{"escaped":true}')]), keyed("last", '{"n":2}')],
      expected: [
        new ShardEnvelope("first", 1),
        { escaped: true },
        new ShardEnvelope("last", { n: 2 }),
      ],
    });
  });

  it("carries a custom serializer's bytes that start with a marker unchanged, both ways", async () => {
    // Both sides custom: the sender escapes its 0x01 and 0x02 payloads, the receiver unescapes.
    class Custom implements Serializer {
      serialize(value: unknown): Uint8Array {
        const e = value as ShardEnvelope<number>;
        return new Uint8Array([e.message, 7]);
      }
      deserialize(bytes: Uint8Array): unknown {
        return new ShardEnvelope(`custom ${bytes.length}`, bytes[0]);
      }
    }
    await using pair = await inboxPair(new Custom(), new Custom());
    for (const first of [1, 2, 0, 3]) pair.inbox.tell(new ShardEnvelope("x", first));
    await waitFor(() => pair.got.length >= 4, { timeout: 10_000, what: "the messages" });
    assert.deepEqual(pair.got, [1, 2, 0, 3].map((n) => new ShardEnvelope("custom 2", n)));
    assert.equal(pair.dead.length, 0);
  });
});

describe("ShardForward's keyed wire form", () => {
  it("is what a node with the default serializer sends: the other fields as a JSON array", async () => {
    const got = await sentPayloads(3, (plain, custom) => {
      plain.tell(new ShardForward("e12", { type: "inc" }, 2, "node-a"));
      custom.tell(new ShardForward("e12", 1, 1, "node-b")); // a custom serializer: full form
      custom.tell({ bytes: new Uint8Array([0x03, 9]) });
    });
    assert.deepEqual(got[0], [
      ...keyed("e12", '[{"type":"inc"},2,"node-a","shardForward"]', 0x03),
    ]);
    const full = [...defaultSerializer().serialize(new ShardForward("e12", 1, 1, "node-b"))];
    assert.ok(got.some((p) => p.join() === full.join()), "the full form from a custom serializer");
    assert.ok(got.some((p) => p.join() === "2,3,9"), "custom bytes starting with 0x03 escaped");
  });

  it("decodes to the forward the full form gives, whatever the id and message", async () => {
    await using pair = await inboxPair(defaultSerializer());
    const cases: ShardForward[] = [
      new ShardForward("e12", { type: "inc" }, 1, "node-a"),
      new ShardForward("", [1, "two", { three: 3n }], 3, "node-b"),
      new ShardForward("entité-日本-🎉", new Map([["k", new Set([new Date(0)])]]), 1, "n"),
      new ShardForward("lone-\ud800-surrogate", "sent in the full form", 1, "n"),
      new ShardForward("u", undefined, 1, "n"),
      new ShardForward("p", new Point(1, 2), 4, "n"),
      new ShardForward("nested", new ShardEnvelope("inner", { n: -0 }), 1, "n"),
    ];
    await assertDecodesAsFullForm(pair, cases, cases.length, [
      "entityId",
      "message",
      "hops",
      "from",
      "type",
    ]);
  });

  it("reaches a node with another serializer in the full form, byte for byte", async () => {
    await assertFullFormReaches(
      new ShardForward("e12", { type: "inc", at: new Date(5), s: "\u2028é" }, 1, "n"),
    );
  });

  it("keeps the decode limits of the full form: the fields one level down", async () => {
    // maxDepth 3: the forward (1), its message (2), one container inside it (3).
    await using pair = await inboxPair(defaultSerializer({ maxDepth: 3 }));
    pair.inbox.tell(new ShardForward("ok", { a: [1] }, 1, "n"));
    pair.inbox.tell(new ShardForward("deep", { a: [[1]] }, 1, "n"));
    pair.inbox.tell(new ShardForward("after", 1, 1, "n"));
    await waitFor(() => pair.got.length >= 2 && pair.dead.length >= 1, {
      timeout: 10_000,
      what: "two messages and a DeadLetter",
    });
    assert.deepEqual(pair.got.map((e) => (e as ShardForward).entityId), ["ok", "after"]);
    assert.match(String(pair.dead[0].detail), /maxDepth/);
    const full = defaultSerializer({ maxDepth: 3 });
    assert.throws(
      () =>
        full.deserialize(
          defaultSerializer().serialize(new ShardForward("d", { a: [[1]] }, 1, "n")),
        ),
      /maxDepth/,
    );
  });

  it("turns malformed keyed forwards into DeadLetters with their bytes, with either serializer", async () => {
    for (const serializer of [defaultSerializer(), new RecordingSerializer()]) {
      await assertMalformedAreDeadLetters(serializer, {
        first: [],
        bad: [
          [new Uint8Array([0x03, 0]), /shorter than its header/],
          [keyed("e1", '{"a":1}', 0x03), /not an array of 4 fields/],
          [keyed("e1", '[1,1,"n"]', 0x03), /not an array of 4 fields/],
          [keyed("e1", "[1,1,", 0x03), /not valid UTF-8 JSON/],
        ],
        last: [keyed("last", '[{"n":2},1,"node-a","shardForward"]', 0x03)],
        expected: [new ShardForward("last", { n: 2 }, 1, "node-a")],
      });
    }
  });
});
