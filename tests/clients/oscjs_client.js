// osc.js (the library Open Stage Control is built on) against the show: sends a value over
// UDP and one over TCP (osc.js frames TCP with SLIP), asks /status, prints what came back.
// Usage: node oscjs_client.js PORT
const osc = require("osc");
const port = parseInt(process.argv[2], 10);
const udp = new osc.UDPPort({ localAddress: "127.0.0.1", localPort: 0, remoteAddress: "127.0.0.1", remotePort: port });
const got = [];
udp.on("message", (m) => got.push(m.address));
udp.on("bundle", (b) => b.packets.forEach((p) => got.push(p.address)));
udp.on("ready", () => {
  udp.send({ address: "/norm/walk/speed", args: [{ type: "f", value: 0.75 }] });
  udp.send({ address: "/status", args: [] });
  const tcp = new osc.TCPSocketPort({ address: "127.0.0.1", port: port });
  tcp.on("ready", () => {
    tcp.send({ address: "/output/brightness", args: [{ type: "f", value: 0.5 }] });
    setTimeout(() => tcp.close(), 300);
  });
  tcp.open();
  setTimeout(() => { console.log(JSON.stringify(got)); udp.close(); process.exit(0); }, 1500);
});
udp.open();
