// Hostile workspace specs on the agent stream: ids that are no DNS label or would collide with
// another workspace's namespace, quotas that are no quantity or break the local policy's ceilings,
// workspace-agent images from elsewhere dressed up as the allowed registry, deletes of what is not
// Meridian's, and snapshots that list too much, twice, or without ids. The test policy (support.ts)
// allows ghcr.io/meridian-dev and caps quotas at cpu 16, memory 64Gi.
import { MAX_WORKSPACES } from "@meridian/shared/protocol/limits";
import { agentSnapshot, lines, rawEvent, upsert, workspace } from "./bytes.ts";
import type { StreamInput } from "./types.ts";

/**
 * Namespaces the test creates before the inputs, as someone else would have: a customer's own, and
 * one labelled as Meridian's for workspace `y` (an agent with the prefix `mw-x-` made it) that the
 * id `x-y` under the prefix `mw-` would also name.
 */
export const FOREIGN_NAMESPACES: { name: string; labels: Record<string, string> }[] = [
  { name: "mw-customer", labels: { team: "payments" } },
  {
    name: "mw-x-y",
    labels: {
      "app.kubernetes.io/part-of": "meridian",
      "app.kubernetes.io/managed-by": "meridian-agent",
      "meridian.dev/workspace": "y",
    },
  },
];

const INVALID = (field: string) =>
  new RegExp(`^event "workspace\\.upsert" is invalid: workspace\\.${field}: `);
const REGISTRY =
  /is not from an allowed registry \(allowedRegistries\.workspaceAgent=ghcr\.io\/meridian-dev\)/;
const DIGEST = `sha256:${"ab".repeat(32)}`;

const entry = (e: Omit<StreamInput, "class" | "stream">): StreamInput => ({
  ...e,
  class: "workspace",
  stream: "agent",
});

/** A workspace refused by the schema for `field`. */
const invalid = (name: string, what: string, spec: Record<string, unknown>, field: string) =>
  entry({ name, what, bytes: (c) => upsert(c, spec), expect: { kind: "refused", reason: INVALID(field) } });

/** A valid workspace the local policy refuses. */
const policy = (name: string, what: string, extra: Record<string, unknown>, reason: RegExp) =>
  entry({
    name,
    what,
    bytes: (c) => upsert(c, workspace(name, extra)),
    expect: { kind: "policy", workspace: name, reason },
  });
const image = (name: string, what: string, ref: string) =>
  policy(name, what, { workspaceAgent: { image: ref } }, REGISTRY);
const quota = (cpu: string, memory: string) => ({ quota: { cpu, memory } });

export const workspaces: StreamInput[] = [
  invalid("id-uppercase", "id `Team-a`", workspace("Team-a"), "id"),
  invalid("id-unicode", "id `tëam` (a non-ASCII letter)", workspace("tëam"), "id"),
  invalid("id-dots", "id `team.a`", workspace("team.a"), "id"),
  invalid("id-64-chars", "an id of 64 characters", workspace("a".repeat(64)), "id"),
  invalid(
    "id-41-chars",
    "an id of 41 characters (derived names would pass 63)",
    workspace("a".repeat(41)),
    "id",
  ),
  invalid("id-leading-dash", "id `-team`", workspace("-team"), "id"),
  invalid("id-trailing-dash", "id `team-`", workspace("team-"), "id"),
  invalid("id-underscore", "id `team_a`", workspace("team_a"), "id"),
  invalid("id-newline", "an id with a line break", workspace("team\nb"), "id"),
  invalid("id-path", "id `../kube-system`", workspace("../kube-system"), "id"),
  invalid("id-number", "id 42, a number", workspace("x", { id: 42 }), "id"),
  invalid("id-empty", "an empty id", workspace(""), "id"),
  invalid("quota-cpu-negative", "quota.cpu `-1`", workspace("q-neg", quota("-1", "1Gi")), "quota\\.cpu"),
  invalid("quota-cpu-exponent", "quota.cpu `1e3`", workspace("q-exp", quota("1e3", "1Gi")), "quota\\.cpu"),
  invalid(
    "quota-memory-unit",
    "quota.memory `1GB` (no such suffix)",
    workspace("q-gb", quota("1", "1GB")),
    "quota\\.memory",
  ),
  invalid(
    "quota-cpu-space",
    "quota.cpu `1 ` with a trailing space",
    workspace("q-sp", quota("1 ", "1Gi")),
    "quota\\.cpu",
  ),
  invalid(
    "quota-memory-too-long",
    "quota.memory of 65 digits",
    workspace("q-long", quota("1", "9".repeat(65))),
    "quota\\.memory",
  ),
  invalid(
    "quota-pods-zero",
    "quota.pods 0",
    workspace("q-p0", { quota: { cpu: "1", memory: "1Gi", pods: 0 } }),
    "quota\\.pods",
  ),
  invalid(
    "quota-pods-huge",
    "quota.pods 1001",
    workspace("q-p1001", { quota: { cpu: "1", memory: "1Gi", pods: 1001 } }),
    "quota\\.pods",
  ),
  policy(
    "q-cpu-ceiling",
    "quota.cpu 17, above the ceiling 16",
    quota("17", "1Gi"),
    /quota\.cpu 17 exceeds the policy ceiling quotaCeilings\.cpu=16/,
  ),
  policy(
    "q-cpu-millis",
    "quota.cpu 16001m, a millicore above the ceiling",
    quota("16001m", "1Gi"),
    /quota\.cpu 16001m exceeds/,
  ),
  policy(
    "q-mem-ceiling",
    "quota.memory 65Gi, above 64Gi",
    quota("1", "65Gi"),
    /quota\.memory 65Gi exceeds the policy ceiling quotaCeilings\.memory=64Gi/,
  ),
  policy(
    "q-mem-decimal",
    "quota.memory 64.0000001Gi",
    quota("1", "64.0000001Gi"),
    /quota\.memory 64\.0000001Gi exceeds/,
  ),
  policy(
    "q-mem-exa",
    "quota.memory of 20 digits in Ei",
    quota("1", `${"9".repeat(20)}Ei`),
    /quota\.memory 9{20}Ei exceeds/,
  ),
  policy(
    "q-both",
    "cpu and memory both above their ceilings",
    quota("64", "1Ti"),
    /quota\.cpu 64 exceeds.*; quota\.memory 1Ti exceeds/,
  ),
  image(
    "img-host-suffix",
    "an image on ghcr.io.evil.example, a host that starts like the allowed one",
    "ghcr.io.evil.example/meridian-dev/workspace-agent:1",
  ),
  invalid(
    "img-userinfo",
    "ghcr.io@evil.example/…: the allowed host as user info, which no runtime parses",
    workspace("img-at", { workspaceAgent: { image: "ghcr.io@evil.example/meridian-dev/workspace-agent:1" } }),
    "workspaceAgent\\.image",
  ),
  image("img-uppercase", "GHCR.IO/meridian-dev/…", "GHCR.IO/meridian-dev/workspace-agent:1"),
  image(
    "img-org-prefix",
    "ghcr.io/meridian-dev-evil/…, an organisation that starts like the allowed one",
    "ghcr.io/meridian-dev-evil/workspace-agent:1",
  ),
  image(
    "img-port",
    "ghcr.io:443/meridian-dev/…, the allowed host with a port",
    "ghcr.io:443/meridian-dev/workspace-agent:1",
  ),
  image(
    "img-digest-elsewhere",
    "a digest-pinned image from elsewhere",
    `evil.example/meridian-dev/workspace-agent@${DIGEST}`,
  ),
  image(
    "img-nested-path",
    "evil.example/ghcr.io/meridian-dev/…",
    "evil.example/ghcr.io/meridian-dev/workspace-agent:1",
  ),
  image("img-docker-hub-short", "a short Docker Hub name, meridian-agent:1", "meridian-agent:1"),
  invalid(
    "img-leading-space",
    "an allowed image behind a leading space (the policy would judge it trimmed, the API server refuses it)",
    workspace("img-lead", { workspaceAgent: { image: " ghcr.io/meridian-dev/x:1" } }),
    "workspaceAgent\\.image",
  ),
  invalid(
    "img-dot-segments",
    "ghcr.io/meridian-dev/../evil/x: under the allowed prefix as text, elsewhere as a path",
    workspace("img-dots", { workspaceAgent: { image: "ghcr.io/meridian-dev/../evil/x:1" } }),
    "workspaceAgent\\.image",
  ),
  invalid(
    "img-line-break",
    "an allowed image, a line break, and another image",
    workspace("img-lf", { workspaceAgent: { image: "ghcr.io/meridian-dev/x:1\nevil.example/y:1" } }),
    "workspaceAgent\\.image",
  ),
  invalid(
    "img-trailing-space",
    "an allowed image with a trailing space (the API server refuses it)",
    workspace("img-trail", { workspaceAgent: { image: "ghcr.io/meridian-dev/x:1 " } }),
    "workspaceAgent\\.image",
  ),
  invalid(
    "display-name-long",
    "displayName of 201 characters",
    workspace("dn", { displayName: "d".repeat(201) }),
    "displayName",
  ),
  invalid(
    "requests-above-limits",
    "workspace agent requests above its limits",
    workspace("req", {
      workspaceAgent: {
        resources: { requests: { cpu: "2", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } },
      },
    }),
    "workspaceAgent\\.resources",
  ),
  invalid(
    "log-level",
    "workspaceAgent.logLevel `trace`",
    workspace("ll", { workspaceAgent: { logLevel: "trace" } }),
    "workspaceAgent\\.logLevel",
  ),
  invalid(
    "agent-string",
    "workspaceAgent as a string",
    workspace("wa", { workspaceAgent: "ghcr.io/meridian-dev/x:1" }),
    "workspaceAgent",
  ),
  invalid("generation-zero", "generation 0", workspace("gen0", { generation: 0 }), "generation"),
  invalid("generation-negative", "generation -5", workspace("genneg", { generation: -5 }), "generation"),
  entry({
    name: "conflict-other-workspace",
    what: "id x-y: its namespace mw-x-y is Meridian's, but for workspace y (another agent's prefix mw-x-)",
    bytes: (c) => upsert(c, workspace("x-y")),
    expect: {
      kind: "conflict",
      workspace: "x-y",
      reason:
        /Namespace mw-x-y already exists and is not Meridian's \(its label meridian\.dev\/workspace is "y" \(another workspace\)/,
    },
  }),
  entry({
    name: "delete-customer-namespace",
    what: "a delete of workspace customer, whose namespace mw-customer the customer made",
    bytes: (c) => rawEvent(c, "workspace.delete", '{"id":"customer"}'),
    expect: { kind: "left-alone", workspace: "customer", reason: /namespace mw-customer is not Meridian's/ },
  }),
  entry({
    name: "delete-other-workspace",
    what: "a delete of workspace x-y, whose namespace is another workspace's",
    bytes: (c) => rawEvent(c, "workspace.delete", '{"id":"x-y"}'),
    expect: { kind: "left-alone", workspace: "x-y", reason: /namespace mw-x-y is not Meridian's/ },
  }),
  entry({
    name: "delete-empty-id",
    what: "a delete with an empty id",
    bytes: (c) => rawEvent(c, "workspace.delete", '{"id":""}'),
    expect: { kind: "refused", reason: /^event "workspace\.delete" is invalid: id: / },
  }),
  entry({
    name: "delete-generation-zero",
    what: "a delete naming generation 0",
    bytes: (c) => rawEvent(c, "workspace.delete", '{"id":"gone","generation":0}'),
    expect: { kind: "refused", reason: /^event "workspace\.delete" is invalid: generation: / },
  }),
  entry({
    name: "delete-id-too-long",
    what: "a delete with an id of 300 characters",
    bytes: (c) => rawEvent(c, "workspace.delete", JSON.stringify({ id: "d".repeat(300) })),
    expect: { kind: "refused", reason: /^event "workspace\.delete" is invalid: id: / },
  }),
  entry({
    name: "snapshot-too-many",
    what: `a snapshot of ${MAX_WORKSPACES + 1} workspaces`,
    bytes: (c) => [
      lines([
        `id: ${c.next()}`,
        "event: snapshot",
        `data: ${JSON.stringify({ workspaces: Array.from({ length: MAX_WORKSPACES + 1 }, (_, i) => ({ id: `w${i}` })) })}`,
      ]),
    ],
    expect: { kind: "refused", reason: /^event "snapshot" is invalid: workspaces: / },
  }),
  entry({
    name: "snapshot-null-list",
    what: "a snapshot whose workspaces are null",
    bytes: (c) => rawEvent(c, "snapshot", '{"workspaces":null}'),
    expect: { kind: "refused", reason: /^event "snapshot" is invalid: workspaces: / },
  }),
  entry({
    name: "snapshot-twins",
    what: "a snapshot listing workspace twin twice, with different quotas",
    bytes: (c) => agentSnapshot(c, [workspace("twin"), workspace("twin", quota("2", "2Gi"))]),
    expect: { kind: "refused", count: 2, item: "twin", reason: /id "twin" is listed 2 times/ },
  }),
  entry({
    name: "snapshot-item-without-id",
    what: "a snapshot with an item that has no id (it could be any workspace: nothing is orphaned)",
    bytes: (c) => agentSnapshot(c, [{ generation: 1, quota: { cpu: "1", memory: "1Gi" } }]),
    expect: { kind: "refused", reason: /^workspaces\.\d+\.id: / },
  }),
  entry({
    name: "snapshot-bad-item",
    what: "a snapshot with one invalid workspace beside the good ones",
    bytes: (c) => agentSnapshot(c, [workspace("snap-bad", quota("1", "lots"))]),
    expect: { kind: "refused", item: "snap-bad", reason: /^workspaces\.\d+\.quota\.memory: / },
  }),
];
