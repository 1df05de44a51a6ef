/**
 * bench/siem's stand-in SIEM receiver, in a process of its own: a plain node:http server on loopback that reads each
 * body, counts its lines, and answers 200 at once (a verification challenge is echoed). Prints its URL, then serves.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

let lines = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    for (const b of body) if (b === 0x0a) lines++;
    if (body.includes("praxa.siem.verification")) {
      const m = JSON.parse(body.toString("utf8").split("\n")[0] ?? "{}") as { challenge?: string };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ challenge: m.challenge }));
      return;
    }
    res.writeHead(200).end("ok");
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => {
  process.stderr.write(`receiver: ${lines} line(s)\n`);
  process.exit(0);
});
