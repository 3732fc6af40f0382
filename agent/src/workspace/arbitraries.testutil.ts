// fast-check arbitraries for the workspace renderer's fuzz tests (objects.fuzz.test.ts and the API
// server's dry run in test/fuzz): specs the protocol accepts and agent configurations the policy allows.
import { mutated, workspaceSpecInput } from "@meridian/shared/protocol/arbitraries.testutil";
import { type WorkspaceSpec, workspaceSpec } from "@meridian/shared/protocol/index";
import fc from "fast-check";
import { policySchema } from "../policy.ts";
import type { BuildContext } from "./build-context.ts";
import { DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT } from "./security-context.ts";

/** Specs the protocol accepts: generated valid ones, and mutations of them that still pass. */
export const acceptedWorkspaceSpec: fc.Arbitrary<WorkspaceSpec> = fc
  .oneof(
    workspaceSpecInput,
    mutated(workspaceSpecInput).map((m) => m.value),
  )
  .map((input) => workspaceSpec.safeParse(input))
  .filter((r) => r.success)
  .map((r) => r.data as WorkspaceSpec);

/** Namespace prefixes the local policy accepts. */
const prefix = fc
  .oneof(
    fc.constant("mw-"),
    fc.constant("meridian-workspaces-x-"),
    fc.stringMatching(/^[a-z][-a-z0-9]{0,21}$/),
  )
  .filter((p) => policySchema.safeParse({ namespacePrefix: p }).success);

export const buildContext: fc.Arbitrary<BuildContext> = fc.record({
  namespacePrefix: prefix,
  clusterRoles: fc.constant({
    workspaceAgent: "meridian-agent-workspace-agent",
    flink: "meridian-agent-flink",
    drain: "meridian-agent-drain",
    agent: { namespace: "meridian-system", name: "meridian-agent" },
  }),
  image: fc.constantFrom(
    "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0",
    `registry.local:5000/agent@sha256:${"b".repeat(64)}`,
  ),
  pullPolicy: fc.constantFrom("Always", "IfNotPresent", "Never"),
  pullSecrets: fc.array(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/), { maxLength: 2 }),
  controlPlaneUrl: fc.constantFrom("https://cp.example.com", "https://cp.example.com:8443/base"),
  logLevel: fc.constantFrom("debug", "info"),
  caPem: fc.option(fc.constant("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), {
    nil: undefined,
  }),
  httpsProxy: fc.option(fc.constant("http://proxy.internal:3128"), { nil: undefined }),
  noProxy: fc.option(fc.constant("10.0.0.0/8,.svc"), { nil: undefined }),
  flinkAllowedRegistries: fc.constant(["docker.io/library/flink"]),
  flinkAllowedJarURIs: fc.constant([]),
  orphanGracePeriodSeconds: fc.integer({ min: 0, max: 10 ** 7 }),
  savepointBaseDir: fc.option(fc.constant("s3://bucket/savepoints"), { nil: undefined }),
  securityContext: fc.constant(DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT),
});
