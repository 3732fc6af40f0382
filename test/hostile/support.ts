// What the hostile tests share: the local policy they run the agent under and a search of the
// agent's JSON log lines.

/** A local policy that allows the workspace-agent image, so only the input decides what happens. */
export const POLICY = {
  namespacePrefix: "mw-",
  allowedRegistries: { workspaceAgent: ["ghcr.io/meridian-dev"], flink: ["docker.io/library/flink"] },
  quotaCeilings: { cpu: "16", memory: "64Gi" },
  orphanGracePeriodSeconds: 3600,
};

export interface LogLine {
  msg?: string;
  reason?: string;
  eventId?: string;
}

/** The first of `lines` (JSON log lines) whose reason matches `reason` and message `msg`. */
export function logged(lines: readonly string[], reason: RegExp, msg: RegExp): LogLine | undefined {
  for (const l of lines) {
    const line = JSON.parse(l) as LogLine;
    if (reason.test(line.reason ?? "") && msg.test(line.msg ?? "")) return line;
  }
  return undefined;
}

/** `s` as a literal inside a RegExp. */
export const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
