import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createLogger } from "./log.ts";

const SECRET = "s3cr3t-token-value-0123456789";

function capture(): { logger: ReturnType<typeof createLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c.toString("utf8")));
  const logger = createLogger({ component: "test", level: "debug", destination: stream });
  return { logger, lines: () => chunks.join("").split("\n").filter(Boolean) };
}

test("tokens, authorization headers and Secret data are redacted at any depth we log them", () => {
  const { logger, lines } = capture();
  logger.info({ token: SECRET }, "top");
  logger.info({ issued: { token: SECRET, expiresAt: "2026-01-01T00:00:00Z" } }, "nested");
  logger.info({ request: { headers: { authorization: `Bearer ${SECRET}` } } }, "headers");
  logger.info(
    { secret: { metadata: { name: "x" }, data: { token: Buffer.from(SECRET).toString("base64") } } },
    "obj",
  );
  logger.info({ object: { kind: "Secret", stringData: { token: SECRET } } }, "stringData");
  const out = lines();
  assert.equal(out.length, 5);
  for (const line of out) {
    assert.doesNotMatch(line, new RegExp(SECRET));
    assert.doesNotMatch(line, new RegExp(Buffer.from(SECRET).toString("base64")));
  }
  assert.match(out[0] ?? "", /\[REDACTED\]/);
  assert.equal(JSON.parse(out[1] ?? "{}").issued.expiresAt, "2026-01-01T00:00:00Z", "non-secret fields stay");
});

test("errors keep message and cause chain but drop headers and process output that can hold credentials", () => {
  const { logger, lines } = capture();
  const inner = Object.assign(new Error("connect refused"), {
    headers: { authorization: `Bearer ${SECRET}` },
    stdout: `{"status":{"token":"${SECRET}"}}`,
  });
  const outer = Object.assign(new Error("status POST failed", { cause: inner }), {
    options: { headers: { authorization: `Bearer ${SECRET}` } },
  });
  logger.error({ err: outer }, "failed");
  const [line] = lines();
  assert.ok(line);
  assert.doesNotMatch(line, new RegExp(SECRET));
  const parsed = JSON.parse(line);
  assert.match(parsed.err.message, /status POST failed/);
  assert.match(JSON.stringify(parsed.err), /connect refused/, "the cause chain is still logged");
  assert.equal(parsed.level, "error");
  assert.equal(parsed.component, "test");
});
