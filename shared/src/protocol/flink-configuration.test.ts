import assert from "node:assert/strict";
import { test } from "node:test";
import { describeIssues } from "./events.ts";
import { FLINK_KEY, flinkConfiguration, flinkConfigurationProblems } from "./flink-configuration.ts";

test("Flink option keys as Flink's own documentation spells them are accepted", () => {
  for (const key of [
    "taskmanager.memory.process.size",
    "pipeline.global-job-parameters",
    "execution.checkpointing.interval",
    "containerized.master.env.JAVA_TOOL_OPTIONS",
    "metrics.reporter.prom.factory.class",
    "fs.s3a.aws.credentials.provider",
    "s3.access-key",
    "env.java.opts.all",
    "high-availability.type",
    "a",
    "null",
    "1.5",
  ])
    assert.ok(FLINK_KEY.test(key), key);
});

test("keys that are not one Flink option key are refused, quoted in the reason", () => {
  for (const key of [
    "a\nrest.port",
    "a\r\nb",
    "a: b",
    "a b",
    "key#comment",
    '"quoted"',
    "'single'",
    "",
    ".leading",
    "trailing.",
    "double..dot",
    "-: x",
    "{a: b}",
    "[a]",
    "a\tb",
    "$internal.pipeline.job-id",
    "ключ.x",
    "a\u2028b",
  ]) {
    const problems = flinkConfigurationProblems({ [key]: "v" });
    assert.equal(problems.length, 1, JSON.stringify(key));
    assert.match(problems[0] ?? "", /^keys must be Flink option keys/);
    assert.ok(problems[0]?.includes(JSON.stringify(key)), `${problems[0]} names ${JSON.stringify(key)}`);
  }
});

test("a reason lists at most five keys, each cut short, and says how many more", () => {
  const config = Object.fromEntries(
    Array.from({ length: 8 }, (_, i) => [`bad key ${i} ${"x".repeat(200)}`, "v"]),
  );
  const [problem] = flinkConfigurationProblems(config);
  assert.match(problem ?? "", /and 3 more$/);
  assert.ok((problem?.length ?? 0) < 800, `short: ${problem?.length}`);
});

test("values with line breaks, quotes, colons, '#' and any printable character are accepted", () => {
  const config = {
    "a.b": "multi\nline: value # not a comment",
    "c.d": `"double" 'single' \\ {flow} [seq] &anchor *alias !tag %directive`,
    "e.f": "  leading and trailing  ",
    "g.h": "\ttab\r\ncrlf\u0085nel\u2028ls\u2029ps\ufeffbom😀",
    "i.j": "",
    "k.l": "---\n...",
  };
  assert.deepEqual(flinkConfigurationProblems(config), []);
});

test("values Flink's YAML reader cannot take back are refused, naming their keys", () => {
  for (const value of [
    "a\u0000b",
    "a\u0007b",
    "a\u007fb",
    "a\u0080b",
    "a\u009fb",
    "\ufffe",
    "\uffff",
    "\ud800",
    "x\udfff",
  ]) {
    const problems = flinkConfigurationProblems({ "bad.value": value, "good.value": "fine" });
    assert.equal(problems.length, 1, JSON.stringify(value));
    assert.match(problems[0] ?? "", /^values must hold only YAML's printable characters.*"bad\.value"$/);
  }
});

test("keys Meridian owns are refused, naming each key and what to do instead", () => {
  const problems = flinkConfigurationProblems({
    "rest.port": "9999",
    "parallelism.default": "8",
    "restart-strategy.type": "fixed-delay",
  });
  assert.deepEqual(problems, [
    "sets keys Meridian owns: rest.port (8081, the Service's rest port), parallelism.default (set parallelism); remove them",
  ]);
});

test("the schema reports every problem at flinkConfiguration, and accepts a clean map", () => {
  const r = flinkConfiguration.safeParse({ "a\nb": "x", "rest.port": "1", "c.d": "\u007f" });
  assert.equal(r.success, false);
  const reason = r.success ? "" : describeIssues(r.error);
  assert.match(reason, /\(root\): keys must be Flink option keys.*"a\\nb"/);
  assert.match(reason, /values must hold only YAML's printable characters.*"c\.d"/);
  assert.match(reason, /sets keys Meridian owns: rest\.port/);
  assert.deepEqual(flinkConfiguration.parse({ "state.backend.type": "rocksdb" }), {
    "state.backend.type": "rocksdb",
  });
});
