import assert from "node:assert/strict";
import { test } from "node:test";
import {
  fileSystemUri,
  hostPort,
  httpUrl,
  integer,
  list,
  logLevel,
  optionalText,
  text,
} from "./setting-schemas.ts";
import { ConfigError, loadSettings, SettingsLoad, settingsTable, shownDefault } from "./settings.ts";

const table = settingsTable({
  url: { flag: "url", env: "X_URL", description: "d", expected: "an http(s) URL", schema: httpUrl },
  name: {
    flag: "name",
    env: "X_NAME",
    description: "d",
    expected: "a name",
    schema: text,
    default: () => "host",
  },
  id: {
    flag: "id",
    env: "X_ID",
    description: "d",
    expected: "an id",
    schema: text,
    default: (earlier) => `${earlier.name}_1`,
    defaultDoc: "<name>_1",
  },
  count: {
    flag: "count",
    env: "X_COUNT",
    description: "d",
    expected: "1 to 9",
    schema: integer(1, 9),
    default: () => "3",
  },
  file: {
    flag: "file",
    env: "X_FILE",
    envAlias: "FILE",
    description: "d",
    expected: "a path",
    schema: optionalText,
  },
});

test("a flag wins over the environment, the environment over the default; an empty variable is unset", () => {
  const v = loadSettings(table, {
    flags: { count: "5" },
    env: { X_URL: "https://cp.example.com//", X_COUNT: "7", X_NAME: "", FILE: "/k" },
  });
  assert.deepEqual(v, { url: "https://cp.example.com", name: "host", id: "host_1", count: 5, file: "/k" });
  const w = loadSettings(table, {
    flags: { name: "n" },
    env: { X_URL: "http://a", X_FILE: "/m", FILE: "/k" },
  });
  assert.equal(w.id, "n_1", "a default sees the settings before it");
  assert.equal(w.file, "/m", "the own variable wins over the alias");
});

test("every problem names the setting, its source, the value and what was expected, in one ConfigError", () => {
  assert.throws(
    () => loadSettings(table, { flags: { id: "  " }, env: { X_COUNT: "12" } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        "setting --url / X_URL (from default: not set): is required; expected an http(s) URL",
        'setting --id / X_ID (from flag: "  "): must not be empty; expected an id',
        'setting --count / X_COUNT (from env: "12"): "12" is not an integer from 1 to 9; expected 1 to 9',
      ]);
      assert.match(err.message, /^invalid configuration:\n {2}setting --url/);
      return true;
    },
  );
});

test("a process adds its own problems in the same format and finish() throws them together", () => {
  const load = new SettingsLoad(table, { flags: {}, env: { X_URL: "https://x", X_FILE: "/f" } });
  const values = load.validate();
  assert.equal(values?.count, 3);
  load.finish();
  load.problem("file", "cannot read /f (ENOENT)");
  load.problem("count", "3 is not less than 2", { expected: false });
  assert.throws(
    () => load.finish(),
    (err: ConfigError) => {
      assert.deepEqual(err.problems, [
        'setting --file / X_FILE (from env: "/f"): cannot read /f (ENOENT); expected a path',
        'setting --count / X_COUNT (from default: "3"): 3 is not less than 2',
      ]);
      return true;
    },
  );
});

test("the shared schemas accept what they describe and refuse the rest", () => {
  const ok = <T>(s: { safeParse(v: unknown): { success: boolean; data?: T } }, v: unknown) =>
    s.safeParse(v).data;
  const bad = (s: { safeParse(v: unknown): { success: boolean } }, v: unknown) => !s.safeParse(v).success;
  assert.equal(ok(hostPort, " 10.0.0.5:8080 "), "10.0.0.5:8080");
  assert.equal(ok(hostPort, "[::1]:0"), "[::1]:0");
  assert.ok(bad(hostPort, "0.0.0.0:99999") && bad(hostPort, "8080"));
  assert.deepEqual(ok(list, " a, ,b "), ["a", "b"]);
  assert.deepEqual(ok(list, undefined), []);
  assert.equal(ok(logLevel, " DEBUG "), "debug");
  assert.ok(bad(logLevel, "loud"));
  assert.equal(ok(fileSystemUri, "s3://b/sp//"), "s3://b/sp");
  assert.equal(ok(fileSystemUri, undefined), undefined);
  assert.ok(bad(fileSystemUri, "/no/scheme"));
  assert.ok(bad(httpUrl, "ftp://x") && bad(httpUrl, "http://"));
  assert.ok(bad(integer(0, 5), "") && bad(integer(0, 5), "1.5") && bad(integer(0, 5), "6"));
});

test("help and docs show the documented default, else the computed one, never an empty one", () => {
  assert.equal(shownDefault(table.id), "<name>_1");
  assert.equal(shownDefault(table.count), "3");
  assert.equal(shownDefault(table.file), undefined);
  assert.equal(shownDefault({ ...table.file, default: () => "" }), undefined);
});
