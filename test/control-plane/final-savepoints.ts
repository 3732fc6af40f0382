// The final savepoints a deleted workspace left (issue 12): the agent reports them in the workspace's
// status (`finalSavepoints`) while the workspace drains and once it is deleted, explicitly or as an
// expired orphan. The reference control plane keeps them per agent, workspace id and deployment, and
// a later deployment of that name in a new workspace with the same id (on the same agent) gets the
// kept one as its `job.initialSavepointPath` unless its body names one: so it restores from it. A
// kept savepoint is used once; a deployment keeps its initialSavepointPath across later puts that
// leave it out. docs/control-plane.md, docs/protocol.md.
import type { DatabaseSync } from "node:sqlite";
import type { AgentStatus, DeploymentSpec } from "@meridian/shared/protocol/index";

export class FinalSavepoints {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS final_savepoints (
      agent_id TEXT NOT NULL,
      workspace_id TEXT NOT NULL,
      name TEXT NOT NULL,
      location TEXT NOT NULL,
      reported_at TEXT NOT NULL,
      PRIMARY KEY (agent_id, workspace_id, name)
    )`);
  }

  /**
   * Keeps what an agent's status reports for its workspaces that are not live here (deleted, or
   * unknown to this control plane: an orphan); `owner(id)` is the agent of a live workspace.
   */
  record(agentId: string, status: AgentStatus, owner: (id: string) => string | undefined, at: string): void {
    const upsert = this.#db.prepare(
      `INSERT INTO final_savepoints (agent_id, workspace_id, name, location, reported_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (agent_id, workspace_id, name) DO UPDATE SET location = excluded.location,
         reported_at = excluded.reported_at`,
    );
    for (const w of status.workspaces) {
      if (!w.finalSavepoints?.length || owner(w.id) !== undefined) continue;
      for (const f of w.finalSavepoints) upsert.run(agentId, w.id, f.deployment, f.location, at);
    }
  }

  /** The kept final savepoints of one agent's workspace, by deployment. */
  list(agentId: string, workspaceId: string): Record<string, string> {
    const rows = this.#db
      .prepare("SELECT name, location FROM final_savepoints WHERE agent_id = ? AND workspace_id = ?")
      .all(agentId, workspaceId);
    return Object.fromEntries(rows.map((r) => [String(r.name), String(r.location)]));
  }

  /**
   * The spec to store for a put: the body's own initialSavepointPath; else the one the live
   * deployment already has; else, for a new deployment, the kept final savepoint (used up).
   */
  initialSavepoint(
    agentId: string,
    workspaceId: string,
    input: DeploymentSpec,
    live: DeploymentSpec | undefined,
  ): DeploymentSpec {
    if (input.job.initialSavepointPath !== undefined) return input;
    const path = live ? live.job.initialSavepointPath : this.#take(agentId, workspaceId, input.name);
    return path === undefined ? input : { ...input, job: { ...input.job, initialSavepointPath: path } };
  }

  #take(agentId: string, workspaceId: string, name: string): string | undefined {
    const row = this.#db
      .prepare("SELECT location FROM final_savepoints WHERE agent_id = ? AND workspace_id = ? AND name = ?")
      .get(agentId, workspaceId, name);
    if (!row) return undefined;
    this.#db
      .prepare("DELETE FROM final_savepoints WHERE agent_id = ? AND workspace_id = ? AND name = ?")
      .run(agentId, workspaceId, name);
    return String(row.location);
  }
}
