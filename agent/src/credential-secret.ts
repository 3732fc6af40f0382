// Where the agent keeps its short-lived control-plane credential between restarts and leaders: a
// Secret in its own namespace (`<release>-credential`, the chart's `MERIDIAN_AGENT_CREDENTIAL_SECRET`),
// keys `token`, `expiresAt`, `issuedAt`. Read with get and written with server-side apply by name
// only (RBAC `resourceNames`; the confinement policy lets the agent write nothing else at home but its
// Lease). Every replica can read it, so a standby that becomes leader continues with the credential
// the last leader stored instead of needing the install token again.
import { applyObject, getObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { FIELD_MANAGER_AGENT, MANAGED_BY_AGENT, meridianLabels } from "@meridian/shared/kube/labels";
import { type KubeObject, SECRETS } from "@meridian/shared/kube/resources";

export interface StoredAgentCredential {
  token: string;
  expiresAt: string;
  /** When the agent received it: the refresh point is a third of its lifetime before expiry. */
  issuedAt: string;
}

export interface CredentialStore {
  /** The stored credential; undefined when there is none (or it is incomplete). */
  load(): Promise<StoredAgentCredential | undefined>;
  save(credential: StoredAgentCredential, signal?: AbortSignal): Promise<void>;
  /** `namespace/name`, for messages. */
  readonly where: string;
}

const KEYS = ["token", "expiresAt", "issuedAt"] as const;

/** The credential a Secret holds, or undefined when a part is missing or unreadable. */
export function credentialOfSecret(secret: KubeObject | undefined): StoredAgentCredential | undefined {
  const data = (secret?.data ?? {}) as Record<string, string>;
  const [token, expiresAt, issuedAt] = KEYS.map((k) =>
    typeof data[k] === "string" ? Buffer.from(data[k], "base64").toString("utf8").trim() : "",
  );
  if (!token || !Number.isFinite(Date.parse(expiresAt ?? "")) || !Number.isFinite(Date.parse(issuedAt ?? "")))
    return undefined;
  return { token, expiresAt: expiresAt!, issuedAt: issuedAt! };
}

export function buildCredentialSecret(namespace: string, name: string, c: StoredAgentCredential): KubeObject {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace, labels: meridianLabels(MANAGED_BY_AGENT) },
    type: "Opaque",
    data: { token: b64(c.token), expiresAt: b64(c.expiresAt), issuedAt: b64(c.issuedAt) },
  };
}

/** The credential Secret `name` in `namespace`, through the Kubernetes API. */
export class SecretCredentialStore implements CredentialStore {
  readonly #kube: KubeClient;
  readonly #namespace: string;
  readonly #name: string;

  constructor(kube: KubeClient, namespace: string, name: string) {
    this.#kube = kube;
    this.#namespace = namespace;
    this.#name = name;
  }

  get where(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  async load(): Promise<StoredAgentCredential | undefined> {
    return credentialOfSecret(await getObject(this.#kube, SECRETS, this.#namespace, this.#name));
  }

  async save(credential: StoredAgentCredential, signal?: AbortSignal): Promise<void> {
    const secret = buildCredentialSecret(this.#namespace, this.#name, credential);
    await applyObject(this.#kube, SECRETS, secret, {
      fieldManager: FIELD_MANAGER_AGENT,
      force: true,
      signal,
    });
  }
}
