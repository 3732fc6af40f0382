import assert from "node:assert/strict";
import { test } from "node:test";
import { imageReference } from "./common.ts";

test("an image is a reference a container runtime parses, not text that looks like one", () => {
  for (const ok of [
    "flink:2.3.0",
    "busybox",
    "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0",
    "registry.example.com:5000/team/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "localhost/x_y__z-w:tag.1",
    "GHCR.IO/org/x:1",
  ])
    assert.equal(imageReference.safeParse(ok).success, true, ok);
  for (const bad of [
    "ghcr.io/org/../evil/x:1",
    "ghcr.io/org/x:1\nevil.example/y:1",
    " ghcr.io/org/x:1",
    "ghcr.io/org/x:1 ",
    "ghcr.io@evil.example/org/x",
    "ghcr.io/Org/x",
    "x@sha256:short",
    "",
  ])
    assert.equal(imageReference.safeParse(bad).success, false, JSON.stringify(bad));
});
