// Child of deno_accept_test.ts (Deno only): an echo server on the Deno TCP adapter, run with a
// low `ulimit -n`. Prints {"event":"ready","port"} and one {"event":"accept-error"} per error.

import { denoTcp } from "../../src/runtime/deno/tcp.ts";

const listener = await denoTcp.listen("127.0.0.1", 0, {
  onAccept: (conn) => conn.onData((chunk) => conn.write(chunk)),
  onError: (error) =>
    console.log(JSON.stringify({ event: "accept-error", message: error.message })),
});
console.log(JSON.stringify({ event: "ready", port: listener.port }));
