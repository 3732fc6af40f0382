// What a deployment's `flinkConfiguration` may hold: Flink option keys (Flink's key grammar), values
// that Flink's YAML reader gets back unchanged from config.yaml, and none of the keys Meridian sets
// itself. Checked where every spec is validated (the protocol schema), so a spec that breaks a rule
// is refused with a reason naming the keys, before anything is rendered or applied.
import { z } from "zod";
import { maxEntries } from "./common.ts";
import { MAX_CONFIG_ENTRIES, MAX_CONFIG_KEY_LENGTH, MAX_CONFIG_VALUE_LENGTH } from "./limits.ts";

/**
 * A Flink option key: dot-separated segments of letters, digits, `-` and `_`
 * (`taskmanager.memory.process.size`, `pipeline.global-job-parameters`,
 * `containerized.master.env.JAVA_TOOL_OPTIONS`). No spaces, quotes, colons, `#` or line breaks, so a
 * key can never be read as anything but one key of config.yaml.
 */
export const FLINK_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Characters a value may hold: YAML's printable set (tab, line feed, carriage return and every
 * printable Unicode character). Flink's YAML reader rejects the whole config.yaml when it meets a raw
 * DEL, C1 control character or U+FFFE/U+FFFF (the YAML library leaves them unescaped), an unpaired
 * surrogate cannot be stored as UTF-8, and the other control characters have no use in an option.
 * Everything else — line breaks, quotes, colons, `#`, leading spaces — round-trips exactly.
 */
const NOT_PRINTABLE = /[^\t\n\r\x20-\x7E\x85\u00A0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** True when `s` holds a character outside YAML's printable set (see NOT_PRINTABLE). */
export function hasUnprintable(s: string): boolean {
  return NOT_PRINTABLE.test(s);
}

/**
 * The Flink options Meridian writes into every config.yaml itself (the addresses and ports its
 * Service and probes rely on, and values it derives from the spec), with what to do instead.
 * A spec that sets one is refused instead of being silently overridden.
 */
export const MERIDIAN_OWNED_FLINK_KEYS: Readonly<Record<string, string>> = {
  "jobmanager.rpc.address": "the JobManager Service's address",
  "jobmanager.rpc.port": "6123, the Service's rpc port",
  "blob.server.port": "6124, the Service's blob port",
  "rest.port": "8081, the Service's rest port",
  "taskmanager.rpc.port": "6122",
  "taskmanager.numberOfTaskSlots": "set taskManager.taskSlots",
  "parallelism.default": "set parallelism",
  "execution.shutdown-on-application-finish": "false, so the final job state stays readable",
  "kubernetes.cluster-id": "the deployment's name, Kubernetes HA's cluster id",
  "high-availability.cluster-id": "the deployment's name, Kubernetes HA's cluster id",
  "kubernetes.namespace": "the workspace's namespace, where the HA ConfigMaps live",
};

/** How many offending keys a reason lists, and how much of each (keys may be long or hostile). */
const LISTED = 5;
const KEY_SHOWN = 80;

/** A key as it appears in a reason: JSON-quoted (a line break reads `\n`) and cut to KEY_SHOWN. */
function show(key: string): string {
  return JSON.stringify(key.length > KEY_SHOWN ? `${key.slice(0, KEY_SHOWN)}…` : key);
}

function list(keys: string[], fmt: (k: string) => string): string {
  const more = keys.length > LISTED ? ` and ${keys.length - LISTED} more` : "";
  return keys.slice(0, LISTED).map(fmt).join(", ") + more;
}

/** Why `config` cannot be rendered into config.yaml as it is; empty when it can. */
export function flinkConfigurationProblems(config: Record<string, string>): string[] {
  const keys = Object.keys(config);
  const problems: string[] = [];
  const badKeys = keys.filter((k) => !FLINK_KEY.test(k));
  if (badKeys.length > 0)
    problems.push(
      `keys must be Flink option keys (dot-separated segments of letters, digits, '-' and '_', such as taskmanager.memory.process.size): ${list(badKeys, show)}`,
    );
  const badValues = keys.filter((k) => hasUnprintable(config[k] ?? ""));
  if (badValues.length > 0)
    problems.push(
      `values must hold only YAML's printable characters (no control character but tab and line breaks, no U+FFFE, U+FFFF or unpaired surrogate): ${list(badValues, show)}`,
    );
  const owned = keys.filter((k) => Object.hasOwn(MERIDIAN_OWNED_FLINK_KEYS, k));
  if (owned.length > 0)
    problems.push(
      `sets keys Meridian owns: ${list(owned, (k) => `${k} (${MERIDIAN_OWNED_FLINK_KEYS[k]})`)}; remove them`,
    );
  return problems;
}

/**
 * `flinkConfiguration` of a deployment spec: string values by Flink option key, within the limits.
 * A `__proto__` key (JSON.parse makes it an ordinary key) would be dropped without a word by the
 * record schema, so it is refused first.
 */
export const flinkConfiguration = z
  .custom<Record<string, string>>(
    (raw) => typeof raw !== "object" || raw === null || !Object.hasOwn(raw, "__proto__"),
    {
      message: 'has the key "__proto__", which is not a Flink option and cannot be kept; remove it',
    },
  )
  .pipe(z.record(z.string().max(MAX_CONFIG_KEY_LENGTH), z.string().max(MAX_CONFIG_VALUE_LENGTH)))
  .check(maxEntries(MAX_CONFIG_ENTRIES))
  .superRefine((config, ctx) => {
    for (const message of flinkConfigurationProblems(config)) ctx.addIssue({ code: "custom", message });
  });
