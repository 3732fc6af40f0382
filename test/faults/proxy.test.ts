// The fault proxy between a client and a real echo server on loopback: bytes pass unchanged, and each
// fault does what it says while on and stops when switched off.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server, Socket } from "node:net";
import { after, before, test } from "node:test";
import { type FaultProxy, startFaultProxy } from "./proxy.ts";
import { connectionsOf } from "./socket-owner.ts";

let echo: Server;
let proxy: FaultProxy;
const echoSockets = new Set<Socket>();

before(async () => {
  echo = createServer((s) => {
    echoSockets.add(s);
    s.on("close", () => echoSockets.delete(s));
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  const port = (echo.address() as { port: number }).port;
  proxy = await startFaultProxy({ target: { host: "127.0.0.1", port } });
});

after(async () => {
  await proxy.close();
  for (const s of echoSockets) s.destroy();
  echo.close();
});

async function connect(): Promise<Socket> {
  const s = new Socket();
  s.connect(proxy.port, proxy.host);
  await once(s, "connect");
  return s;
}

/** Collects what arrives on `s` until `n` bytes are there or `ms` pass. */
function read(s: Socket, n: number, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const done = () => {
      s.off("data", onData);
      clearTimeout(t);
      resolve(got);
    };
    const onData = (c: Buffer) => {
      got += c.toString();
      if (got.length >= n) done();
    };
    const t = setTimeout(done, ms);
    s.on("data", onData);
  });
}

test("bytes pass through unchanged and in order", async () => {
  const s = await connect();
  const msg = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join("");
  s.write(msg);
  assert.equal(await read(s, msg.length, 2000), msg);
  s.destroy();
});

test("latency delays every chunk, both ways, and keeps order", async () => {
  const s = await connect();
  proxy.setLatency(150);
  const started = Date.now();
  s.write("a");
  s.write("b");
  assert.equal(await read(s, 2, 3000), "ab");
  const took = Date.now() - started;
  assert.ok(took >= 300, `round trip took ${took} ms, expected >= 300 (150 each way)`);
  proxy.setLatency(0);
  const t0 = Date.now();
  s.write("c");
  assert.equal(await read(s, 1, 2000), "c");
  assert.ok(Date.now() - t0 < 150, "latency off again");
  assert.throws(() => proxy.setLatency(-1), /latency must be >= 0/);
  s.destroy();
});

test("a black hole delivers nothing and answers no new connection, then delivers what it held", async () => {
  const s = await connect();
  proxy.blackhole(true);
  s.write("held");
  assert.equal(await read(s, 4, 400), "", "nothing crosses a black hole");
  const late = await connect();
  late.write("new");
  assert.equal(await read(late, 3, 300), "", "a new connection gets no answer");
  proxy.blackhole(false);
  assert.equal(await read(s, 4, 2000), "held");
  assert.equal(await read(late, 3, 2000), "new");
  s.destroy();
  late.destroy();
});

test("a black hole for chosen connections leaves the others flowing", async () => {
  const cut = await connect();
  const free = await connect();
  proxy.blackhole(true, (c) => c.clientPort === cut.localPort);
  cut.write("cut");
  free.write("free");
  assert.equal(await read(free, 4, 2000), "free");
  assert.equal(await read(cut, 3, 300), "", "the chosen connection is cut off");
  proxy.blackhole(false);
  assert.equal(await read(cut, 3, 2000), "cut");
  cut.destroy();
  free.destroy();
});

test("reset sends RST to every open connection", async () => {
  const a = await connect();
  const b = await connect();
  const errors = [once(a, "error"), once(b, "error")];
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(proxy.resetAll() >= 2);
  for (const [err] of await Promise.all(errors))
    assert.equal((err as NodeJS.ErrnoException).code, "ECONNRESET");
});

test("refuse resets new connections until switched off", async () => {
  proxy.refuse(true);
  const s = new Socket();
  s.connect(proxy.port, proxy.host);
  const [err] = await once(s, "error");
  assert.equal((err as NodeJS.ErrnoException).code, "ECONNRESET");
  proxy.refuse(false);
  const ok = await connect();
  ok.write("x");
  assert.equal(await read(ok, 1, 2000), "x");
  ok.destroy();
  assert.ok(proxy.stats().refused >= 1);
});

test("a connection is traced to the process that opened it", async () => {
  const s = await connect();
  const mine = connectionsOf([process.pid], proxy.port);
  assert.equal(mine({ clientPort: s.localPort! }), true, "this process owns its connection");
  const other = spawn("sleep", ["30"]);
  try {
    assert.equal(
      connectionsOf([other.pid!], proxy.port)({ clientPort: s.localPort! }),
      false,
      "another does not",
    );
  } finally {
    other.kill();
  }
  s.destroy();
});
