// A pod that satisfies the Pod Security Standard `restricted`, which every workspace namespace enforces
// (the shape Meridian's own pods have: non-root, RuntimeDefault seccomp, no privilege escalation, no
// capabilities). Tests that create pods in a workspace namespace start from it.
export function restrictedPod(
  name: string,
  labels: Record<string, string> = {},
  container: Record<string, unknown> = {},
) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "c",
          image: "registry.meridian.test/none:1",
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
          ...container,
        },
      ],
    },
  };
}
