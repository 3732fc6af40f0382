import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonTextError } from "./json-text.ts";

test("an object with the same key twice is refused, naming where; escapes decoded", () => {
  assert.equal(jsonTextError('{"a":1,"b":{"a":2}}'), undefined);
  assert.equal(jsonTextError('[{"a":1},{"a":1}]'), undefined, "equal keys in sibling objects are fine");
  assert.equal(
    jsonTextError('{"workspace":{"id":"a","quota":{},"id":"b"}}'),
    'workspace: has the key "id" twice; which value is meant cannot be known',
  );
  assert.match(jsonTextError('{"id":1,"\\u0069d":2}') ?? "", /^\(root\): has the key "id" twice/);
  assert.match(
    jsonTextError('{"workspaces":[{},{"id":"x","q":[1,{"k":1,"k":2}]}]}') ?? "",
    /^workspaces\.1\.q\.1: has the key "k"/,
  );
  assert.equal(jsonTextError('{"s":"\\"id\\":1,\\"id\\":2"}'), undefined, "keys inside strings are no keys");
  assert.equal(jsonTextError('{"a":"x","b":"a"}'), undefined, "a value equal to a key is no key");
});

test("nesting over the limit is refused; brackets inside strings are no nesting", () => {
  assert.equal(jsonTextError(`${"[".repeat(32)}${"]".repeat(32)}`), undefined);
  assert.match(jsonTextError(`${"[".repeat(33)}${"]".repeat(33)}`) ?? "", /deeper than the limit of 32/);
  assert.equal(jsonTextError(JSON.stringify({ s: "[".repeat(100) })), undefined);
  assert.match(jsonTextError(`{"s":"\\\\","x":${"[".repeat(33)}}`) ?? "", /deeper than the limit/);
});
