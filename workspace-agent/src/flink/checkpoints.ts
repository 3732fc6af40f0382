// A job's checkpoints as reported upward, pure: Flink's `/jobs/:id/checkpoints` statistics turned into
// the protocol's `checkpointStatus` (counts, the latest completed checkpoint with its time, size and
// duration, what the job was restored from, the latest failure). Fields Flink leaves out are left out.
import type { CheckpointStatus } from "@meridian/shared/protocol/index";
import type { CheckpointingStatistics } from "./rest.ts";

const MAX_FAILURE_MESSAGE = 500;

const count = (n: number | undefined) => (typeof n === "number" && n >= 0 ? Math.floor(n) : 0);
const iso = (ms: number | undefined) =>
  typeof ms === "number" && ms > 0 ? new Date(ms).toISOString() : undefined;

export function checkpointStatusOf(stats: CheckpointingStatistics): CheckpointStatus {
  const out: CheckpointStatus = {
    completed: count(stats.counts?.completed),
    failed: count(stats.counts?.failed),
    inProgress: count(stats.counts?.in_progress),
  };
  const c = stats.latest?.completed;
  const cTime = iso(c?.latest_ack_timestamp ?? c?.trigger_timestamp);
  if (c && typeof c.id === "number" && cTime) {
    out.latest = {
      id: c.id,
      time: cTime,
      sizeBytes: count(c.state_size ?? c.checkpointed_size),
      durationMs: count(c.end_to_end_duration),
    };
    if (c.external_path) out.latest.location = c.external_path;
  }
  const r = stats.latest?.restored;
  const rTime = iso(r?.restore_timestamp);
  if (r && typeof r.id === "number" && rTime) {
    out.restored = { id: r.id, time: rTime, savepoint: r.is_savepoint === true };
    if (r.external_path) out.restored.location = r.external_path;
  }
  const f = stats.latest?.failed;
  const fTime = iso(f?.failure_timestamp);
  if (f && typeof f.id === "number" && fTime)
    out.lastFailure = {
      id: f.id,
      time: fTime,
      message: (f.failure_message ?? "no reason given").split("\n")[0]!.slice(0, MAX_FAILURE_MESSAGE),
    };
  return out;
}
