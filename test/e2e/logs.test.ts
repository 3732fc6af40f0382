// The e2e test's log checks must be able to fail: a non-JSON line, a line without the logger's
// fields, and a credential anywhere in the text are each caught, naming the line but not the value.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createLogger } from "@meridian/shared/log";
import { assertNoCredential, parseJsonLines } from "./logs.ts";

const TOKEN = "mra_0123456789abcdef0123";

test("lines from the project's logger parse; their token field is redacted", async () => {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => {
    text += c.toString("utf8");
  });
  const logger = createLogger({ component: "probe", destination: out });
  logger.info({ workspace: "a", token: TOKEN }, "hello");
  logger.warn({ headers: { authorization: `Bearer ${TOKEN}` } }, "request");
  await new Promise((r) => setImmediate(r));
  const lines = parseJsonLines(text, "probe");
  assert.equal(lines.length, 2);
  assert.equal(lines[0]?.msg, "hello");
  assert.equal(lines[0]?.component, "probe");
  assertNoCredential(text, [{ name: "agent token", value: TOKEN }], "probe");
});

test("a line that is not JSON, or not a log object, is refused with its number", () => {
  assert.throws(
    () => parseJsonLines('{"level":"info","time":"t","component":"c","msg":"m"}\nplain text', "src"),
    /src: line 2 is not JSON/,
  );
  assert.throws(() => parseJsonLines("[1,2]", "src"), /line 1 is not a JSON object/);
  assert.throws(
    () => parseJsonLines('{"level":"info","time":"t","msg":"m"}', "src"),
    /no string "component" field/,
  );
});

test("a credential anywhere in the text is found; the error names it, not its value", () => {
  const text = `{"msg":"a"}\n{"msg":"dialling with ${TOKEN}"}\n`;
  assert.throws(
    () => assertNoCredential(text, [{ name: "workspace token", value: TOKEN }], "kubectl logs x"),
    (err: Error) =>
      err.message === "kubectl logs x: line 2 contains the workspace token" && !err.message.includes(TOKEN),
  );
  assert.throws(() => assertNoCredential(text, [{ name: "empty", value: "" }], "x"), /too short/);
});
