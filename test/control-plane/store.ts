// Desired state, credentials and reported status of the reference control plane, on top of the
// SQLite file. The store owns `generation`: a spec that differs from the stored one gets the next
// generation and one change in the log; an identical one changes nothing.
import type { DatabaseSync } from "node:sqlite";
import type { DeploymentSpec, WorkspaceSpec } from "@meridian/shared/protocol/index";
import { type Change, ChangeLog } from "./change-log.ts";
import { canonicalJson, inTransaction, openDatabase } from "./db.ts";
import { FinalSavepoints } from "./final-savepoints.ts";
import type { TokenKind } from "./tokens.ts";

export interface StoredWorkspace {
  agentId: string;
  spec: WorkspaceSpec;
  deleted: boolean;
}

export interface PutResult<T> {
  spec: T;
  /** The appended change, or undefined when the spec was identical to the stored one. */
  change: Change | undefined;
}

export interface Credential {
  kind: TokenKind;
  subject: string;
  /** Milliseconds since the epoch; undefined for tokens that do not expire (agent tokens). */
  expiresAt: number | undefined;
}

export interface StoredStatus {
  body: unknown;
  receivedAt: string;
}

export interface StoreOptions {
  path: string;
  changeLogLimit: number;
}

/** The spec as compared for changes: everything except the server-owned generation and epoch. */
function canonicalSpec(spec: { generation: number; epoch?: number | undefined }): string {
  const { generation: _ignored, epoch: _epoch, ...rest } = spec;
  return canonicalJson(rest);
}

export class Store {
  readonly db: DatabaseSync;
  readonly log: ChangeLog;
  /** The epoch every spec of this database carries: fixed when the database was created. */
  readonly epoch: number;
  /** Final savepoints of deleted workspaces, for new deployments of the same names (final-savepoints.ts). */
  readonly finalSavepoints: FinalSavepoints;

  constructor(opts: StoreOptions) {
    this.db = openDatabase(opts.path);
    this.log = new ChangeLog(this.db, opts.changeLogLimit);
    this.finalSavepoints = new FinalSavepoints(this.db);
    this.epoch = Number(this.db.prepare("SELECT value FROM meta WHERE key = 'epoch'").get()?.value);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /** Creates an agent, or rotates its token: every earlier token of that agent stops working. */
  createAgent(id: string, tokenHash: string): void {
    inTransaction(this.db, () => {
      this.db
        .prepare("INSERT OR IGNORE INTO agents (id, created_at) VALUES (?, ?)")
        .run(id, new Date().toISOString());
      this.db.prepare("DELETE FROM credentials WHERE kind = 'agent' AND subject = ?").run(id);
      this.addCredential(tokenHash, "agent", id, undefined);
    });
  }

  agentExists(id: string): boolean {
    return this.db.prepare("SELECT 1 AS x FROM agents WHERE id = ?").get(id) !== undefined;
  }

  addCredential(tokenHash: string, kind: TokenKind, subject: string, expiresAt: number | undefined): void {
    this.db
      .prepare("DELETE FROM credentials WHERE expires_at IS NOT NULL AND expires_at < ?")
      .run(Date.now());
    this.db
      .prepare(
        "INSERT INTO credentials (token_hash, kind, subject, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(tokenHash, kind, subject, expiresAt ?? null, new Date().toISOString());
  }

  findCredential(tokenHash: string): Credential | undefined {
    const row = this.db
      .prepare("SELECT kind, subject, expires_at FROM credentials WHERE token_hash = ?")
      .get(tokenHash);
    if (!row) return undefined;
    return {
      kind: row.kind as TokenKind,
      subject: String(row.subject),
      expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
    };
  }

  /**
   * Revokes workspace credentials at once: the one whose hash is `tokenHash`, or (without it) every
   * one of the workspace. Returns how many were revoked.
   */
  revokeWorkspaceCredentials(workspaceId: string, tokenHash?: string): number {
    const sql = "DELETE FROM credentials WHERE kind = 'workspace' AND subject = ?";
    const r =
      tokenHash === undefined
        ? this.db.prepare(sql).run(workspaceId)
        : this.db.prepare(`${sql} AND token_hash = ?`).run(workspaceId, tokenHash);
    return Number(r.changes);
  }

  getWorkspace(id: string): StoredWorkspace | undefined {
    const row = this.db.prepare("SELECT agent_id, spec, deleted FROM workspaces WHERE id = ?").get(id);
    if (!row) return undefined;
    return {
      agentId: String(row.agent_id),
      spec: JSON.parse(String(row.spec)) as WorkspaceSpec,
      deleted: row.deleted === 1,
    };
  }

  /** The live (non-deleted) workspaces of one agent, ordered by id. */
  listWorkspaces(agentId: string): WorkspaceSpec[] {
    return this.db
      .prepare("SELECT spec FROM workspaces WHERE agent_id = ? AND deleted = 0 ORDER BY id")
      .all(agentId)
      .map((r) => JSON.parse(String(r.spec)) as WorkspaceSpec);
  }

  /**
   * Stores a workspace spec for an agent (its `generation` is ignored and assigned here). A
   * re-created workspace continues its old generation so that numbers never go backwards.
   */
  putWorkspace(agentId: string, input: WorkspaceSpec): PutResult<WorkspaceSpec> {
    return inTransaction(this.db, () => {
      const row = this.db
        .prepare("SELECT agent_id, generation, canonical, spec, deleted FROM workspaces WHERE id = ?")
        .get(input.id);
      const canonical = canonicalSpec(input);
      if (row && row.deleted === 0 && row.agent_id === agentId && row.canonical === canonical) {
        return { spec: JSON.parse(String(row.spec)) as WorkspaceSpec, change: undefined };
      }
      const spec: WorkspaceSpec = {
        ...input,
        generation: Number(row?.generation ?? 0) + 1,
        epoch: this.epoch,
      };
      this.db
        .prepare(
          `INSERT INTO workspaces (id, agent_id, generation, spec, canonical, deleted) VALUES (?, ?, ?, ?, ?, 0)
           ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, generation = excluded.generation,
             spec = excluded.spec, canonical = excluded.canonical, deleted = 0`,
        )
        .run(spec.id, agentId, spec.generation, JSON.stringify(spec), canonical);
      const change = this.log.append("agent", agentId, "workspace.upsert", { workspace: spec });
      return { spec, change };
    });
  }

  /**
   * Deletes a live workspace: a `deployment.delete` for each of its deployments on the workspace's
   * stream, then `workspace.delete` on its agent's stream; its credentials are revoked.
   */
  deleteWorkspace(id: string): Change[] {
    return inTransaction(this.db, () => {
      const ws = this.getWorkspace(id);
      if (!ws || ws.deleted) return [];
      const changes = this.listDeployments(id).map((d) => this.#markDeploymentDeleted(id, d.name));
      this.db.prepare("UPDATE workspaces SET deleted = 1 WHERE id = ?").run(id);
      this.db.prepare("DELETE FROM credentials WHERE kind = 'workspace' AND subject = ?").run(id);
      changes.push(this.log.append("agent", ws.agentId, "workspace.delete", { id }));
      return changes;
    });
  }

  getDeployment(workspaceId: string, name: string): DeploymentSpec | undefined {
    const row = this.db
      .prepare("SELECT spec FROM deployments WHERE workspace_id = ? AND name = ? AND deleted = 0")
      .get(workspaceId, name);
    return row ? (JSON.parse(String(row.spec)) as DeploymentSpec) : undefined;
  }

  /** The live deployments of one workspace, ordered by name. */
  listDeployments(workspaceId: string): DeploymentSpec[] {
    return this.db
      .prepare("SELECT spec FROM deployments WHERE workspace_id = ? AND deleted = 0 ORDER BY name")
      .all(workspaceId)
      .map((r) => JSON.parse(String(r.spec)) as DeploymentSpec);
  }

  /** Stores a deployment spec of a live workspace; `generation` is assigned here. */
  putDeployment(workspaceId: string, body: DeploymentSpec): PutResult<DeploymentSpec> {
    return inTransaction(this.db, () => {
      const row = this.db
        .prepare(
          "SELECT generation, canonical, spec, deleted FROM deployments WHERE workspace_id = ? AND name = ?",
        )
        .get(workspaceId, body.name);
      const live = row && row.deleted === 0 ? (JSON.parse(String(row.spec)) as DeploymentSpec) : undefined;
      const owner = this.getWorkspace(workspaceId)?.agentId ?? "";
      const input = this.finalSavepoints.initialSavepoint(owner, workspaceId, body, live);
      const canonical = canonicalSpec(input);
      if (row && row.deleted === 0 && row.canonical === canonical) {
        return { spec: JSON.parse(String(row.spec)) as DeploymentSpec, change: undefined };
      }
      const spec: DeploymentSpec = {
        ...input,
        generation: Number(row?.generation ?? 0) + 1,
        epoch: this.epoch,
      };
      this.db
        .prepare(
          `INSERT INTO deployments (workspace_id, name, generation, spec, canonical, deleted) VALUES (?, ?, ?, ?, ?, 0)
           ON CONFLICT (workspace_id, name) DO UPDATE SET generation = excluded.generation,
             spec = excluded.spec, canonical = excluded.canonical, deleted = 0`,
        )
        .run(workspaceId, spec.name, spec.generation, JSON.stringify(spec), canonical);
      const change = this.log.append("workspace", workspaceId, "deployment.upsert", { deployment: spec });
      return { spec, change };
    });
  }

  /** Deletes a live deployment; undefined when there was none. */
  deleteDeployment(workspaceId: string, name: string): Change | undefined {
    return inTransaction(this.db, () =>
      this.getDeployment(workspaceId, name) ? this.#markDeploymentDeleted(workspaceId, name) : undefined,
    );
  }

  #markDeploymentDeleted(workspaceId: string, name: string): Change {
    this.db
      .prepare("UPDATE deployments SET deleted = 1 WHERE workspace_id = ? AND name = ?")
      .run(workspaceId, name);
    return this.log.append("workspace", workspaceId, "deployment.delete", { name });
  }

  /** Replaces the latest status of an agent or workspace agent (level-based). */
  putStatus(kind: TokenKind, subject: string, body: unknown, receivedAt: string): void {
    this.db
      .prepare(
        `INSERT INTO statuses (kind, subject, body, received_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (kind, subject) DO UPDATE SET body = excluded.body, received_at = excluded.received_at`,
      )
      .run(kind, subject, JSON.stringify(body), receivedAt);
  }

  getStatus(kind: TokenKind, subject: string): StoredStatus | undefined {
    const row = this.db
      .prepare("SELECT body, received_at FROM statuses WHERE kind = ? AND subject = ?")
      .get(kind, subject);
    return row ? { body: JSON.parse(String(row.body)), receivedAt: String(row.received_at) } : undefined;
  }
}
