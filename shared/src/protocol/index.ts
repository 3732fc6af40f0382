// Protocol v1: the one schema the agents and the reference control plane share.
export * from "./common.ts";
export * from "./credentials.ts";
export * from "./deployment.ts";
export * from "./events.ts";
export * from "./flink-configuration.ts";
export * from "./json-text.ts";
export * from "./limits.ts";
export * from "./paths.ts";
export * from "./workspace.ts";
export * from "./workspace-storage.ts";
