// The names of Meridian's two processes. Each is the program's name, the `component` of every log
// line it writes, the reportingComponent of its Events, its managed-by label and its field manager,
// so one query finds a process under the same name everywhere (docs/operations.md).
export const PROCESS_AGENT = "meridian-agent";
export const PROCESS_WORKSPACE_AGENT = "meridian-workspace-agent";
