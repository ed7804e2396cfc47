// A real JSON-RPC 2.0 server over WebSocket (rpc-websockets) for wsrun's json-rpc tests.
// Listens on a free loopback port and prints "listening on ws://127.0.0.1:PORT".
// Methods: sum([a, b]), slow([ms, value]) answers after ms, tick() fires the "tick" event to
// its subscribers (rpc.on ["tick"]): rpc-websockets' own notification shape,
// {"notification": "tick", "params": [...]}, with no "jsonrpc" member.
const { Server } = require("rpc-websockets");

const server = new Server({ host: "127.0.0.1", port: 0 });
server.register("sum", (params) => params[0] + params[1]);
server.register(
  "slow",
  ([ms, value]) => new Promise((resolve) => setTimeout(() => resolve(value), ms)),
);
server.event("tick");
server.register("tick", () => {
  setTimeout(() => server.emit("tick", { n: 1 }), 10);
  return "ok";
});
server.on("listening", () => {
  console.log(`listening on ws://127.0.0.1:${server.wss.address().port}`);
});
