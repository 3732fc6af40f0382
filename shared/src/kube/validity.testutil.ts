// What the API server's validation requires of any object's metadata, written out from
// k8s.io/apimachinery (validation.go, ObjectMeta validation) for the fuzz tests of the renderers: names,
// label keys and values, and the size limits that a valid-looking object can still break.
import assert from "node:assert/strict";
import { LABEL_MANAGED_BY, LABEL_PART_OF, PART_OF } from "./labels.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Annotations of one object, keys and values together (TotalAnnotationSizeLimitB). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/** A ConfigMap's data and binaryData together (MaxSecretSize is the same for Secrets). */
export const MAX_CONFIG_MAP_BYTES = 1024 * 1024;
/** What etcd takes in one request by default (--max-request-bytes): a larger object cannot be stored. */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;

export const isDnsLabel = (s: string) => s.length <= 63 && DNS_LABEL.test(s);
export const isDns1035Label = (s: string) => s.length <= 63 && DNS_1035_LABEL.test(s);
export const isDnsSubdomain = (s: string) =>
  s.length <= 253 && s.split(".").every((part) => DNS_LABEL.test(part));
export const isLabelValue = (s: string) => s.length <= 63 && LABEL_VALUE.test(s);

/** `prefix/name` or `name`: a label or annotation key. */
export function isQualifiedName(key: string): boolean {
  const parts = key.split("/");
  if (parts.length > 2) return false;
  const name = parts.at(-1)!;
  if (name.length > 63 || !QUALIFIED_NAME_PART.test(name)) return false;
  return parts.length === 1 || (parts[0]!.length > 0 && isDnsSubdomain(parts[0]!));
}

const bytes = (s: string) => Buffer.byteLength(s, "utf8");

/** The part of an object these checks read (a KubeObject and client-node's V1 types alike). */
export interface Metadata {
  kind?: string | undefined;
  metadata?:
    | {
        name?: string | undefined;
        namespace?: string | undefined;
        labels?: Record<string, string> | undefined;
        annotations?: Record<string, string> | undefined;
      }
    | undefined;
}

/**
 * Asserts what the API server checks of every object's metadata: a name of the right kind, valid
 * label keys and values, valid annotation keys within the size limit, and the whole object within
 * what etcd stores. `nameIs` picks the name rule of the kind (e.g. isDns1035Label for a Service).
 */
export function assertValidMetadata(obj: Metadata, nameIs: (s: string) => boolean = isDnsSubdomain): void {
  const what = `${obj.kind ?? "object"} ${obj.metadata?.name}`;
  const name = obj.metadata?.name ?? "";
  assert.ok(nameIs(name), `${what}: the name is not valid for its kind`);
  if (obj.metadata?.namespace !== undefined)
    assert.ok(
      isDnsLabel(obj.metadata.namespace),
      `${what}: namespace ${obj.metadata.namespace} is no DNS label`,
    );
  for (const [k, v] of Object.entries(obj.metadata?.labels ?? {})) {
    assert.ok(isQualifiedName(k), `${what}: label key ${JSON.stringify(k)}`);
    assert.ok(isLabelValue(v), `${what}: label ${k} has the value ${JSON.stringify(v)}`);
  }
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(obj.metadata?.annotations ?? {})) {
    assert.ok(isQualifiedName(k), `${what}: annotation key ${JSON.stringify(k)}`);
    annotationBytes += bytes(k) + bytes(v);
  }
  assert.ok(
    annotationBytes <= MAX_ANNOTATIONS_BYTES,
    `${what}: annotations take ${annotationBytes} bytes; the API server allows ${MAX_ANNOTATIONS_BYTES}`,
  );
  const size = bytes(JSON.stringify(obj));
  assert.ok(size <= MAX_OBJECT_BYTES, `${what} is ${size} bytes; etcd stores at most ${MAX_OBJECT_BYTES}`);
}

/** Asserts the labels every Meridian object carries (docs/CONVENTIONS.md), plus `extra`. */
export function assertMeridianLabels(obj: Metadata, managedBy: string, extra: Record<string, string>): void {
  const labels = obj.metadata?.labels ?? {};
  const what = `${obj.kind ?? "object"} ${obj.metadata?.name}`;
  assert.equal(labels[LABEL_PART_OF], PART_OF, `${what}: ${LABEL_PART_OF}`);
  assert.equal(labels[LABEL_MANAGED_BY], managedBy, `${what}: ${LABEL_MANAGED_BY}`);
  for (const [k, v] of Object.entries(extra)) assert.equal(labels[k], v, `${what}: ${k}`);
}

/** Asserts a ConfigMap's data (keys and values) within the API server's 1 MiB. */
export function assertConfigMapSize(cm: Metadata & { data?: Record<string, string> | undefined }): void {
  let total = 0;
  for (const [k, v] of Object.entries(cm.data ?? {})) total += bytes(k) + bytes(v);
  assert.ok(
    total <= MAX_CONFIG_MAP_BYTES,
    `ConfigMap ${cm.metadata?.name} holds ${total} bytes of data; the API server allows ${MAX_CONFIG_MAP_BYTES}`,
  );
}
