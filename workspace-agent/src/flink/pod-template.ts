// Pod templates (shared/src/protocol/pod-template.ts) into Flink pods. The effective template of a
// component is the deployment's `podTemplate` merged with `jobManager.podTemplate` or
// `taskManager.podTemplate` (the component's wins); it is then laid over the pod Meridian built, whose
// own parts win: its labels, annotations, volumes, mounts and environment stay, the template's are
// added. The rules, in docs/flink-deployments.md ("Pod templates"):
// - maps (labels, annotations, nodeSelector) merge key by key;
// - named lists merge by name (volumes, env, imagePullSecrets; volume mounts by mountPath), an entry
//   of the component's template replacing the whole entry; containers and initContainers merge by
//   name too, a container in both getting env by name, mounts by mountPath, envFrom concatenated and
//   the rest from the component's;
// - other lists (tolerations, topologySpreadConstraints, envFrom) are concatenated;
// - scalars and affinity: the component's replaces.
// What the schema cannot see alone (clashes with what Meridian adds, the local policy) is refused by
// refusePodTemplate before anything is applied. Pure functions: no I/O.
import type { V1Container, V1Pod, V1TopologySpreadConstraint } from "@kubernetes/client-node";
import { compareStrings } from "@meridian/shared/order";
import type { DeploymentSpec } from "@meridian/shared/protocol/index";
import {
  FLINK_MAIN_CONTAINER,
  type PodTemplate,
  type PodTemplateContainer,
} from "@meridian/shared/protocol/pod-template";

export type FlinkComponent = "jobManager" | "taskManager";

type Spec = NonNullable<PodTemplate["spec"]>;

function byKey<T>(base: T[] | undefined, over: T[] | undefined, key: (t: T) => string): T[] | undefined {
  if (!base) return over;
  if (!over) return base;
  const out = new Map(base.map((t) => [key(t), t]));
  for (const t of over) out.set(key(t), t);
  return [...out.values()];
}

const concat = <T>(a: T[] | undefined, b: T[] | undefined): T[] | undefined =>
  a && b ? [...a, ...b] : (a ?? b);
const mergeMaps = <T>(a: Record<string, T> | undefined, b: Record<string, T> | undefined) =>
  a && b ? { ...a, ...b } : (a ?? b);
const byName = <T extends { name: string }>(a: T[] | undefined, b: T[] | undefined) =>
  byKey(a, b, (t) => t.name);

/** Containers by name; one in both gets env by name, mounts by mountPath, the rest from `over`. */
function mergeContainers(
  base: PodTemplateContainer[] | undefined,
  over: PodTemplateContainer[] | undefined,
): PodTemplateContainer[] | undefined {
  const merged = over?.map((o) => {
    const b = base?.find((c) => c.name === o.name);
    if (!b) return o;
    return dropUndefined({
      ...b,
      ...o,
      env: byName(b.env, o.env),
      envFrom: concat(b.envFrom, o.envFrom),
      volumeMounts: byKey(b.volumeMounts, o.volumeMounts, (m) => m.mountPath),
    });
  });
  return byName(base, merged);
}

/** `over` laid on `base` by the rules above; undefined when both are. */
export function mergePodTemplates(
  base: PodTemplate | undefined,
  over: PodTemplate | undefined,
): PodTemplate | undefined {
  if (!base) return over;
  if (!over) return base;
  const b: Spec = base.spec ?? {};
  const o: Spec = over.spec ?? {};
  const spec: Spec = {
    ...b,
    ...o,
    containers: mergeContainers(b.containers, o.containers),
    initContainers: mergeContainers(b.initContainers, o.initContainers),
    volumes: byName(b.volumes, o.volumes),
    imagePullSecrets: byName(b.imagePullSecrets, o.imagePullSecrets),
    nodeSelector: mergeMaps(b.nodeSelector, o.nodeSelector),
    tolerations: concat(b.tolerations, o.tolerations),
    topologySpreadConstraints: concat(b.topologySpreadConstraints, o.topologySpreadConstraints),
  };
  return dropUndefined({
    metadata: dropUndefined({
      labels: mergeMaps(base.metadata?.labels, over.metadata?.labels),
      annotations: mergeMaps(base.metadata?.annotations, over.metadata?.annotations),
    }),
    spec: dropUndefined(spec),
  });
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The spec as the workspace agent acts on it: the workspace's default pod template merged under the
 * deployment's own `podTemplate` (the deployment's wins); the spec itself when there is no default, so
 * its hash, and what runs, stay as they were.
 */
export function withWorkspacePodTemplate(
  spec: DeploymentSpec,
  workspaceDefault: PodTemplate | undefined,
): DeploymentSpec {
  if (!workspaceDefault) return spec;
  return { ...spec, podTemplate: mergePodTemplates(workspaceDefault, spec.podTemplate) };
}

/** The template one component's pods get. */
export function effectivePodTemplate(
  spec: DeploymentSpec,
  component: FlinkComponent,
): PodTemplate | undefined {
  return mergePodTemplates(spec.podTemplate, spec[component].podTemplate);
}

/** The template's main-container part (`flink-main-container`), if any. */
function mainPart(t: PodTemplate | undefined): PodTemplateContainer | undefined {
  return t?.spec?.containers?.find((c) => c.name === FLINK_MAIN_CONTAINER);
}

/** Sidecars: the template's containers other than flink-main-container. */
export function sidecars(t: PodTemplate | undefined): PodTemplateContainer[] {
  return (t?.spec?.containers ?? []).filter((c) => c.name !== FLINK_MAIN_CONTAINER);
}

/**
 * `pod` (built by objects.ts, one container: Flink) with `template` laid over it, and the chart's
 * pull secrets. Meridian's own entries win; added containers get the Flink container's security
 * context.
 */
export function applyPodTemplate(
  pod: V1Pod,
  template: PodTemplate | undefined,
  pullSecrets: readonly string[],
): V1Pod {
  const spec = pod.spec!;
  const [flink, ...rest] = spec.containers;
  const t = template?.spec ?? {};
  const main = mainPart(template);
  const extra = (c: PodTemplateContainer): V1Container => ({ ...c, securityContext: flink!.securityContext });
  const flinkOut: V1Container = {
    ...flink!,
    env: [...(flink!.env ?? []), ...(main?.env ?? [])],
    ...(main?.envFrom ? { envFrom: main.envFrom } : {}),
    volumeMounts: [...(flink!.volumeMounts ?? []), ...(main?.volumeMounts ?? [])],
  };
  const pulls = byName(
    pullSecrets.map((name) => ({ name })),
    t.imagePullSecrets,
  );
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      labels: { ...template?.metadata?.labels, ...pod.metadata?.labels },
      annotations: { ...template?.metadata?.annotations, ...pod.metadata?.annotations },
    },
    spec: dropUndefined({
      ...spec,
      containers: [flinkOut, ...rest, ...sidecars(template).map(extra)],
      initContainers: t.initContainers?.length ? t.initContainers.map(extra) : undefined,
      volumes: [...(spec.volumes ?? []), ...(t.volumes ?? [])],
      nodeSelector: t.nodeSelector,
      tolerations: t.tolerations,
      affinity: t.affinity,
      topologySpreadConstraints: t.topologySpreadConstraints as V1TopologySpreadConstraint[] | undefined,
      priorityClassName: t.priorityClassName,
      imagePullSecrets: pulls?.length ? pulls : undefined,
    }),
  };
}

/** JSON with object keys sorted: a template's hash does not depend on the order its keys came in. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort(compareStrings)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}
