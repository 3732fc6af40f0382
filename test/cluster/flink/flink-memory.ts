// Flink process memory for the local cluster: the container's memory limit, clamped so that two
// JobManagers and four TaskManagers fit on a 24 GiB machine, split into Flink's memory components
// the way Flink's own BashJavaUtils does for jobmanager.sh / taskmanager.sh: every component set
// explicitly (so Flink derives nothing different) plus the matching -Xmx/-Xms/-XX flags.
// Smaller than Flink's defaults where that is safe for the example jobs (metaspace, JVM overhead,
// network buffers) so resident memory stays low.

const MiB = 1024 * 1024;

/** Process size bounds in MiB: [floor, cap]. */
export const JOBMANAGER_PROCESS_MIB = { min: 640, max: 1024 } as const;
export const TASKMANAGER_PROCESS_MIB = { min: 1024, max: 1536 } as const;

const METASPACE_MIB = 192;
const OVERHEAD = { fraction: 0.1, min: 64, max: 256 } as const;
const JM_OFF_HEAP_MIB = 128;
const TM_FRAMEWORK_HEAP_MIB = 128;
const TM_FRAMEWORK_OFF_HEAP_MIB = 128;
const TM_NETWORK_MIB = 64;
const TM_MANAGED_FRACTION = 0.25;

export interface FlinkMemory {
  processMiB: number;
  /** Flink options to put in the configuration (all memory components, in MiB). */
  config: Record<string, string>;
  /** JVM flags matching `config`. */
  jvmOptions: string[];
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  bytes: 1,
  k: 1024,
  kb: 1024,
  kibibytes: 1024,
  m: MiB,
  mb: MiB,
  mebibytes: MiB,
  g: 1024 * MiB,
  gb: 1024 * MiB,
  gibibytes: 1024 * MiB,
  t: 1024 * 1024 * MiB,
  tb: 1024 * 1024 * MiB,
  tebibytes: 1024 * 1024 * MiB,
};

/** Parses a Flink MemorySize ("1g", "1536m", "1024 mb", "123"); units are binary. */
export function parseFlinkMemorySize(text: string): number {
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = UNITS[m?.[2]?.toLowerCase() ?? "?"];
  if (!m || unit === undefined) {
    throw new Error(`"${text}" is not a Flink memory size; write a number with b, k, m, g or t`);
  }
  return Number(m[1]) * unit;
}

const QUANTITY_SUFFIX: Record<string, number> = {
  "": 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  m: 1e-3,
};

/** Parses a Kubernetes quantity ("1Gi", "1500Mi", "2G", "1e9", "1073741824") into bytes. */
export function parseQuantityBytes(text: string): number {
  const m = /^\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const factor = QUANTITY_SUFFIX[m?.[2] ?? "?"];
  if (!m || factor === undefined || Number.isNaN(Number(m[1]))) {
    throw new Error(`"${text}" is not a Kubernetes quantity (e.g. 1Gi, 1500Mi, 2G)`);
  }
  return Math.ceil(Number(m[1]) * factor);
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}

function overheadMiB(processMiB: number): number {
  return clamp(Math.round(processMiB * OVERHEAD.fraction), OVERHEAD.min, OVERHEAD.max);
}

/** Process size in MiB for a role: the requested bytes (limit or configured size) clamped to [min, max]. */
export function processSizeMiB(requestedBytes: number | undefined, bounds: { min: number; max: number }) {
  if (requestedBytes === undefined) return bounds.max;
  return clamp(Math.floor(requestedBytes / MiB), bounds.min, bounds.max);
}

const mib = (n: number) => `${n}m`;

/** JobManager: heap = process - metaspace - overhead - off-heap. */
export function jobManagerMemory(processMiB: number): FlinkMemory {
  const overhead = overheadMiB(processMiB);
  const heap = processMiB - METASPACE_MIB - overhead - JM_OFF_HEAP_MIB;
  if (heap < 128) throw new Error(`JobManager process size ${processMiB}m leaves ${heap}m heap; use ≥ 640m`);
  return {
    processMiB,
    config: {
      "jobmanager.memory.process.size": mib(processMiB),
      "jobmanager.memory.heap.size": mib(heap),
      "jobmanager.memory.off-heap.size": mib(JM_OFF_HEAP_MIB),
      "jobmanager.memory.jvm-metaspace.size": mib(METASPACE_MIB),
      "jobmanager.memory.jvm-overhead.min": mib(overhead),
      "jobmanager.memory.jvm-overhead.max": mib(overhead),
    },
    jvmOptions: [`-Xmx${heap}m`, `-Xms${heap}m`, `-XX:MaxMetaspaceSize=${METASPACE_MIB}m`],
  };
}

/** TaskManager: fixed framework and network sizes, a quarter of Flink memory managed, the rest task heap. */
export function taskManagerMemory(processMiB: number): FlinkMemory {
  const overhead = overheadMiB(processMiB);
  const flink = processMiB - METASPACE_MIB - overhead;
  const managed = Math.floor(flink * TM_MANAGED_FRACTION);
  const taskHeap = flink - TM_FRAMEWORK_HEAP_MIB - TM_FRAMEWORK_OFF_HEAP_MIB - TM_NETWORK_MIB - managed;
  if (taskHeap < 64) {
    throw new Error(`TaskManager process size ${processMiB}m leaves ${taskHeap}m task heap; use ≥ 1024m`);
  }
  return {
    processMiB,
    config: {
      "taskmanager.memory.process.size": mib(processMiB),
      "taskmanager.memory.framework.heap.size": mib(TM_FRAMEWORK_HEAP_MIB),
      "taskmanager.memory.framework.off-heap.size": mib(TM_FRAMEWORK_OFF_HEAP_MIB),
      "taskmanager.memory.task.heap.size": mib(taskHeap),
      "taskmanager.memory.task.off-heap.size": "0m",
      "taskmanager.memory.network.min": mib(TM_NETWORK_MIB),
      "taskmanager.memory.network.max": mib(TM_NETWORK_MIB),
      "taskmanager.memory.managed.size": mib(managed),
      "taskmanager.memory.jvm-metaspace.size": mib(METASPACE_MIB),
      "taskmanager.memory.jvm-overhead.min": mib(overhead),
      "taskmanager.memory.jvm-overhead.max": mib(overhead),
    },
    jvmOptions: [
      `-Xmx${TM_FRAMEWORK_HEAP_MIB + taskHeap}m`,
      `-Xms${TM_FRAMEWORK_HEAP_MIB + taskHeap}m`,
      `-XX:MaxDirectMemorySize=${TM_FRAMEWORK_OFF_HEAP_MIB + TM_NETWORK_MIB}m`,
      `-XX:MaxMetaspaceSize=${METASPACE_MIB}m`,
    ],
  };
}
