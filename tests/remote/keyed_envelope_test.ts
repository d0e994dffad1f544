// The keyed wire form of a ShardEnvelope ([0x01][u16 BE id length][id UTF-8][message JSON]):
// what a node sends with the default serializer, that it decodes to the same envelope as the
// full tagged form (refs, limits, odd ids included), that a malformed keyed payload becomes a
// `serialization` DeadLetter with a clear reason while the link keeps working, and that a
// custom serializer keeps the full form. Real nodes on 127.0.0.1.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Serializer, TaggedJsonSerializer } from "../../src/serialization/serialization.ts";
import { ShardEnvelope } from "../../src/sharding/shard_envelope.ts";
import { type ActorRef, Behaviors, DeadLetter } from "../../mod.ts";
import { startLocalNode, waitFor } from "../_helpers/probe.ts";

const utf8 = new TextEncoder();

class Point {
  constructor(readonly x: number, readonly y: number) {}
}

function defaultSerializer(limits?: { maxDepth?: number }): TaggedJsonSerializer {
  return new TaggedJsonSerializer({ limits })
    .register(ShardEnvelope, "casty.ShardEnvelope")
    .register(Point, "test.Point");
}

/** The default serializer, but `{ bytes }` is sent as those very bytes (a hostile sender). */
class BytesSerializer extends TaggedJsonSerializer {
  constructor() {
    super();
    this.register(ShardEnvelope, "casty.ShardEnvelope").register(Point, "test.Point");
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

function keyed(id: Uint8Array | string, message: Uint8Array | string): Uint8Array {
  const key = typeof id === "string" ? utf8.encode(id) : id;
  const body = typeof message === "string" ? utf8.encode(message) : message;
  return new Uint8Array([0x01, key.length >>> 8, key.length & 0xff, ...key, ...body]);
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
  it("is what a node with the default serializer sends", async () => {
    const recording = new RecordingSerializer();
    await using pair = await inboxPair(recording);
    pair.inbox.tell(new ShardEnvelope("e12", { type: "inc" }));
    pair.inbox.tell({ type: "plain" });
    await waitFor(() => pair.got.length >= 1 && pair.dead.length >= 1, {
      timeout: 10_000,
      what: "a message and a DeadLetter",
    });
    const seen = recording.seen.map((b) => [...b].join());
    assert.ok(seen.includes([...keyed("e12", '{"type":"inc"}')].join()), "the keyed bytes");
    assert.ok(seen.includes([...utf8.encode('{"type":"plain"}')].join()), "the plain JSON");
    // A receiver with a custom serializer does not read the keyed form: the bytes go to it.
    assert.match(String(pair.dead[0]?.detail), /not valid UTF-8 JSON/);
    assert.deepEqual(pair.got, [{ type: "plain" }]);
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
    for (const c of cases) pair.inbox.tell(c);
    await waitFor(() => pair.got.length >= cases.length, {
      timeout: 10_000,
      describe: () => `${cases.length} messages, got ${pair.got.length}: ${pair.dead[0]?.detail}`,
    });
    assert.equal(pair.dead.length, 0);
    const full = defaultSerializer();
    for (let i = 0; i < cases.length - 1; i++) {
      const got = pair.got[i] as ShardEnvelope<unknown>;
      assert.ok(got instanceof ShardEnvelope, `case ${i} is a ShardEnvelope`);
      assert.deepEqual(Object.keys(got), ["entityId", "message"]);
      assert.deepEqual(got, full.deserialize(full.serialize(cases[i])), `case ${i}`);
    }
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
    await using pair = await inboxPair(defaultSerializer(), new BytesSerializer());
    const bad: [Uint8Array, RegExp][] = [
      [new Uint8Array([0x01]), /shorter than its header/],
      [new Uint8Array([0x01, 0]), /shorter than its header/],
      [new Uint8Array([0x01, 0, 5, 0x61, 0x31]), /key overruns the payload/],
      [keyed(new Uint8Array([0xff, 0xfe]), "1"), /key is not valid UTF-8/],
      [keyed("e1", "{"), /not valid UTF-8 JSON/],
      [keyed("e1", ""), /not valid UTF-8 JSON/],
      [keyed("e1", new Uint8Array([0x22, 0xff, 0x22])), /not valid UTF-8 JSON/],
      [keyed("e1", '{"$t":"class","n":"nope.Nope","v":{}}'), /class "nope\.Nope".*not registered/],
      [keyed("e1", '{"$t":"ref","v":"not a uri"}'), /ref|URI|uri/],
    ];
    pair.inbox.tell(new ShardEnvelope("first", 1));
    for (const [bytes] of bad) pair.inbox.tell({ bytes });
    pair.inbox.tell({ bytes: keyed("last", '{"n":2}') });
    await waitFor(() => pair.got.length >= 2 && pair.dead.length >= bad.length, {
      timeout: 10_000,
      describe: () =>
        `2 messages and ${bad.length} DeadLetters, got ${pair.got.length}, ${pair.dead.length}`,
    });
    assert.equal(pair.got.length, 2);
    assert.deepEqual(pair.got, [
      new ShardEnvelope("first", 1),
      new ShardEnvelope("last", { n: 2 }),
    ]);
    assert.ok(pair.got.every((e) => e instanceof ShardEnvelope));
    assert.equal(pair.dead.length, bad.length);
    for (let i = 0; i < bad.length; i++) {
      const d = pair.dead[i];
      assert.equal(d.reason, "serialization");
      assert.deepEqual(d.message, bad[i][0], `DeadLetter ${i} keeps the bytes`);
      assert.match(String(d.detail), bad[i][1], `DeadLetter ${i}: ${d.detail}`);
    }
    assert.equal(pair.receiver.remoting.selfAddress.port, pair.receiver.selfAddress.port);
  });

  it("is not used with a custom serializer, whose bytes may start with 0x01", async () => {
    // Both sides custom: a payload starting with 0x01 is the serializer's own, not keyed.
    class Custom implements Serializer {
      serialize(value: unknown): Uint8Array {
        const e = value as ShardEnvelope<number>;
        return new Uint8Array([0x01, e.message]);
      }
      deserialize(bytes: Uint8Array): unknown {
        return new ShardEnvelope("custom", bytes[1]);
      }
    }
    await using pair = await inboxPair(new Custom(), new Custom());
    pair.inbox.tell(new ShardEnvelope("x", 7));
    await waitFor(() => pair.got.length >= 1, { timeout: 10_000, what: "the message" });
    assert.deepEqual(pair.got, [new ShardEnvelope("custom", 7)]);
    assert.equal(pair.dead.length, 0);
  });
});
