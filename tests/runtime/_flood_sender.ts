// Connects to 127.0.0.1:<port> and writes as fast as the socket takes for <ms> milliseconds
// (waiting for 'drain' when the kernel buffer is full), then closes. Prints {"event":"done"}.
import { connect } from "node:net";
import process from "node:process";

const port = Number(process.argv[2]);
const ms = Number(process.argv[3] ?? 2000);
const chunk = new Uint8Array(64 * 1024).fill(7);
const socket = connect(port, "127.0.0.1");
socket.on("error", () => process.exit(1));
socket.on("connect", () => {
  const end = Date.now() + ms;
  const pump = () => {
    while (Date.now() < end) {
      if (!socket.write(chunk)) return void socket.once("drain", pump);
    }
    socket.end(() => {
      process.stdout.write(JSON.stringify({ event: "done" }) + "\n");
      process.exit(0);
    });
  };
  pump();
});
