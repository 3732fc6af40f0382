// The demo's own parts that can be checked without a cluster: the progress display (one line per
// step off a terminal, a named StepError with the log tail on failure) and the process finder that
// `down` relies on to leave nothing behind (it must find a pod-like process and only that).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Writable } from "node:stream";
import { test } from "node:test";
import { demoProcesses, kill } from "./processes.ts";
import { Progress, StepError } from "./progress.ts";

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

test("off a terminal each step prints one line with its time; a failure names the step and keeps the log tail", async () => {
  const out = capture();
  const p = new Progress(out.stream);
  const value = await p.step("first", async (note) => {
    note("waiting");
    return 42;
  });
  assert.equal(value, 42);
  await assert.rejects(
    p.step(
      "second",
      async () => {
        throw new Error("boom");
      },
      async () => "last lines",
    ),
    (err: unknown) =>
      err instanceof StepError &&
      err.step === "second" &&
      err.message === "boom" &&
      err.logTail === "last lines",
  );
  const lines = out.text().trimEnd().split("\n");
  assert.equal(lines.length, 2, out.text());
  assert.match(lines[0]!, /^✓ first \(\d+\.\d s\)$/);
  assert.match(lines[1]!, /^✗ second \(\d+\.\d s\)$/);
  assert.ok(!out.text().includes("\r"), "no spinner control characters off a terminal");
});

test("demoProcesses finds a pod-like process and its children by the simulator's hosts file, and nothing else", async () => {
  const hostsFile = `/tmp/meridian-demo-test-${process.pid}/hosts`;
  // Like a container's main process that started a child of its own: both inherit the environment.
  const sleeper = (env: Record<string, string>) =>
    spawn("/bin/sh", ["-c", "sleep 30 & exec sleep 30"], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: "ignore",
    });
  const ours = sleeper({ MERIDIAN_HOSTS_FILE: hostsFile });
  const other = sleeper({ MERIDIAN_HOSTS_FILE: `${hostsFile}.other` });
  const otherPids = () => demoProcesses({ hostsFile: `${hostsFile}.other` }).map((p) => p.pid);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const found = demoProcesses({ hostsFile }).map((p) => p.pid);
    assert.ok(found.includes(ours.pid!), `pid ${ours.pid} not found in ${found.join(",")}`);
    assert.equal(found.length, 2, `expected the process and its child, found ${found.join(",")}`);
    assert.ok(
      otherPids().includes(other.pid!),
      "the other simulator's process is not found by its own hosts file",
    );
    assert.ok(
      !found.some((pid) => otherPids().includes(pid)),
      "another simulator's process was taken for the demo's",
    );
    assert.ok(!found.includes(process.pid));
    // What `down` does with them: SIGKILL each; then nothing is left.
    for (const pid of found) kill(pid);
    await new Promise((r) => ours.once("exit", r));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(demoProcesses({ hostsFile }), []);
  } finally {
    for (const pid of [...demoProcesses({ hostsFile }).map((p) => p.pid), ...otherPids()]) kill(pid);
  }
});
