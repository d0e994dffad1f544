/**
 * State machines: each state is a behavior function and each transition is a return value.
 * No status field, no enum: the behavior is the state.
 *
 * Run: `deno run -A examples/10_state_machine.ts` or `bun examples/10_state_machine.ts`
 *
 * @module
 */
import { type ActorRef, ActorSystem, type Behavior, Behaviors } from "../mod.ts";

interface Item {
  readonly name: string;
  readonly price: number;
}

interface Receipt {
  readonly items: readonly Item[];
  readonly total: number;
}

type CartMsg =
  | { readonly type: "addItem"; readonly item: Item }
  | { readonly type: "checkout"; readonly replyTo: ActorRef<Receipt> }
  | { readonly type: "getTotal"; readonly replyTo: ActorRef<number> };

const sum = (items: Iterable<Item>): number => {
  let total = 0;
  for (const i of items) total += i.price;
  return total;
};

function emptyCart(): Behavior<CartMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "addItem":
        return activeCart(new Map([[msg.item.name, msg.item]]));
      case "checkout":
        return Behaviors.same(); // cannot check out an empty cart
      case "getTotal":
        msg.replyTo.tell(0);
        return Behaviors.same();
    }
  });
}

function activeCart(items: ReadonlyMap<string, Item>): Behavior<CartMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "addItem":
        return activeCart(new Map([...items, [msg.item.name, msg.item]]));
      case "checkout": {
        const all = [...items.values()];
        msg.replyTo.tell({ items: all, total: sum(all) });
        return checkedOut();
      }
      case "getTotal":
        msg.replyTo.tell(sum(items.values()));
        return Behaviors.same();
    }
  });
}

function checkedOut(): Behavior<CartMsg> {
  return Behaviors.receive((_ctx, msg) => {
    if (msg.type === "getTotal") msg.replyTo.tell(0);
    return Behaviors.same(); // terminal state: modifications are ignored
  });
}

await using system = new ActorSystem({ name: "state-machine" });
const cart = system.spawn(emptyCart(), "cart");

cart.tell({ type: "addItem", item: { name: "keyboard", price: 75 } });
cart.tell({ type: "addItem", item: { name: "mouse", price: 25 } });

// CartMsg has two reply types (number and Receipt), so each ask names the one it expects.
const total = await system.ask<CartMsg, number>(cart, (replyTo) => ({ type: "getTotal", replyTo }));
console.log(`Total: $${total.toFixed(2)}`);
// Total: $100.00

const receipt = await system.ask<CartMsg, Receipt>(
  cart,
  (replyTo) => ({ type: "checkout", replyTo }),
);
console.log(`Receipt: ${receipt.items.length} items, $${receipt.total.toFixed(2)}`);
// Receipt: 2 items, $100.00

// Further modifications are ignored: checkedOut is a terminal state.
cart.tell({ type: "addItem", item: { name: "monitor", price: 300 } });
const after = await system.ask<CartMsg, number>(cart, (replyTo) => ({ type: "getTotal", replyTo }));
console.log(`Total after checkout: $${after.toFixed(2)}`);
// Total after checkout: $0.00
