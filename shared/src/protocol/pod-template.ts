// A Flink deployment's pod template: a partial Pod in the shape of the Flink Kubernetes Operator's
// `podTemplate` (metadata and spec; the Flink container is `flink-main-container`). Only what a user
// may add is accepted: environment, volumes and their mounts, scheduling, extra labels and
// annotations, pull secrets, init containers and sidecars. What Meridian owns (the Flink container's
// command, args, image, resources and ports, every security context, the ServiceAccount, the contract
// labels, host volumes) is refused with a reason naming the field; any other unknown field is refused
// by name too (strict objects). The merge into the pods is workspace-agent/src/flink/pod-template.ts.
import { z } from "zod";
import { dnsLabel, maxEntries, quantity } from "./common.ts";
import {
  MAX_IMAGE_LENGTH,
  MAX_OBJECT_NAME_LENGTH,
  MAX_POD_TEMPLATE_ENTRIES,
  MAX_POD_TEMPLATE_STRING_LENGTH,
} from "./limits.ts";

/** The Operator's name for the Flink container in a pod template. */
export const FLINK_MAIN_CONTAINER = "flink-main-container";

const text = z.string().max(MAX_POD_TEMPLATE_STRING_LENGTH);
const objectName = z.string().min(1).max(MAX_OBJECT_NAME_LENGTH);
const list = <T extends z.ZodType>(item: T) => z.array(item).max(MAX_POD_TEMPLATE_ENTRIES);
const map = (key: z.ZodString, value: z.ZodString) =>
  z.record(key, value).check(maxEntries(MAX_POD_TEMPLATE_ENTRIES));
const absolutePath = text.regex(/^\/(?!.*(^|\/)\.\.(\/|$))/, "must be an absolute path without '..'");

/** A field Meridian owns: absent is fine, any value is refused with `reason`. */
const owned = (reason: string) => z.custom<never>(() => false, { error: reason }).optional();

const keyRef = z.strictObject({ name: objectName, key: text.min(1), optional: z.boolean().optional() });
const envVar = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, "must be an environment variable name"),
    value: text.optional(),
    valueFrom: z
      .strictObject({
        secretKeyRef: keyRef.optional(),
        configMapKeyRef: keyRef.optional(),
        fieldRef: z.strictObject({ fieldPath: text.min(1) }).optional(),
      })
      .refine((v) => Object.values(v).filter((x) => x !== undefined).length === 1, {
        error: "must name exactly one of secretKeyRef, configMapKeyRef, fieldRef",
      })
      .optional(),
  })
  .refine((e) => e.value === undefined || e.valueFrom === undefined, {
    error: "sets both value and valueFrom; keep one",
  });
const envFrom = z.strictObject({
  prefix: z.string().max(256).optional(),
  secretRef: z.strictObject({ name: objectName, optional: z.boolean().optional() }).optional(),
  configMapRef: z.strictObject({ name: objectName, optional: z.boolean().optional() }).optional(),
});
const volumeMount = z.strictObject({
  name: dnsLabel(63),
  mountPath: absolutePath,
  subPath: text.optional(),
  readOnly: z.boolean().optional(),
});
const keyToPath = list(
  z.strictObject({ key: text.min(1), path: text.min(1), mode: z.number().int().optional() }),
);
const volume = z
  .strictObject({
    name: dnsLabel(63),
    secret: z
      .strictObject({
        secretName: objectName,
        items: keyToPath.optional(),
        optional: z.boolean().optional(),
        defaultMode: z.number().int().min(0).max(0o777).optional(),
      })
      .optional(),
    configMap: z
      .strictObject({
        name: objectName,
        items: keyToPath.optional(),
        optional: z.boolean().optional(),
        defaultMode: z.number().int().min(0).max(0o777).optional(),
      })
      .optional(),
    emptyDir: z
      .strictObject({ medium: z.enum(["", "Memory"]).optional(), sizeLimit: quantity.optional() })
      .optional(),
    persistentVolumeClaim: z
      .strictObject({ claimName: objectName, readOnly: z.boolean().optional() })
      .optional(),
    hostPath: owned(
      "hostPath volumes are never allowed in a pod template (they reach the node's file system)",
    ),
  })
  .refine((v) => [v.secret, v.configMap, v.emptyDir, v.persistentVolumeClaim].filter(Boolean).length === 1, {
    error: "must have exactly one source: secret, configMap, emptyDir or persistentVolumeClaim",
  });

const SECURITY =
  "is owned by Meridian: every container runs with its restricted security context (non-root, no privilege escalation, all capabilities dropped)";
const FLINK_OWNED: Record<string, string> = {
  image: "is owned by Meridian for flink-main-container: set the deployment's image",
  command: "is owned by Meridian for flink-main-container: it runs the image's Flink entrypoint",
  args: "is owned by Meridian for flink-main-container: set job.args for the job's own arguments",
  resources:
    "is owned by Meridian for flink-main-container: set jobManager.resources or taskManager.resources",
  workingDir: "is owned by Meridian for flink-main-container",
};
const container = z
  .strictObject({
    name: dnsLabel(63),
    image: z.string().min(1).max(MAX_IMAGE_LENGTH).optional(),
    imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
    command: list(text).optional(),
    args: list(text).optional(),
    workingDir: absolutePath.optional(),
    env: list(envVar).optional(),
    envFrom: list(envFrom).optional(),
    volumeMounts: list(volumeMount).optional(),
    resources: z
      .strictObject({
        requests: map(z.string(), quantity).optional(),
        limits: map(z.string(), quantity).optional(),
      })
      .optional(),
    /** `Always` on an init container: a native sidecar (Kubernetes 1.29+). */
    restartPolicy: z.literal("Always").optional(),
    securityContext: owned(`securityContext ${SECURITY}`),
    ports: owned("ports are owned by Meridian: Flink's ports are fixed and a sidecar needs no Service port"),
    livenessProbe: owned("livenessProbe is owned by Meridian for the Flink container"),
    readinessProbe: owned("readinessProbe is owned by Meridian for the Flink container"),
    startupProbe: owned("startupProbe is owned by Meridian for the Flink container"),
  })
  .superRefine((c, ctx) => {
    if (c.name === FLINK_MAIN_CONTAINER) {
      for (const [field, reason] of Object.entries(FLINK_OWNED))
        if (c[field as keyof typeof c] !== undefined)
          ctx.addIssue({ code: "custom", path: [field], message: `${field} ${reason}` });
      if (c.restartPolicy !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["restartPolicy"],
          message: "restartPolicy is owned by Meridian",
        });
    } else if (c.image === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["image"],
        message: `a sidecar or init container needs an image`,
      });
  });

/** Label and annotation keys of Meridian's contract: refused in a template's metadata. */
export function isContractKey(key: string): boolean {
  return (
    key.startsWith("meridian.dev/") ||
    ["app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "app.kubernetes.io/component"].includes(key)
  );
}
const META_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** Label or annotation keys: well formed and none of the contract's (zod drops a record key's own message). */
function checkMetaKeys(o: Record<string, string>, ctx: z.RefinementCtx): void {
  for (const key of Object.keys(o))
    if (key.length > 317 || !META_KEY.test(key))
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `"${key}" is not a valid label or annotation key`,
      });
    else if (isContractKey(key))
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `"${key}" is a key of Meridian's contract (meridian.dev/*, app.kubernetes.io/part-of, managed-by, component)`,
      });
}
const metaKey = z.string().min(1).max(317);
const metadata = z.strictObject({
  labels: map(
    metaKey,
    z
      .string()
      .max(63)
      .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, "must be a label value"),
  )
    .superRefine(checkMetaKeys)
    .optional(),
  annotations: map(metaKey, text).superRefine(checkMetaKeys).optional(),
  name: owned(
    "metadata.name is owned by Meridian (the pods are <deployment>-jobmanager and <deployment>-taskmanager-<n>)",
  ),
  namespace: owned("metadata.namespace is owned by Meridian: the pods live in the workspace namespace"),
});

const toleration = z.strictObject({
  key: text.optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: text.optional(),
  effect: z.enum(["", "NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.number().int().optional(),
});
/** Passed on as written; the API server validates their inside when the pod is created. */
const affinity = z.strictObject({
  nodeAffinity: z.record(z.string(), z.unknown()).optional(),
  podAffinity: z.record(z.string(), z.unknown()).optional(),
  podAntiAffinity: z.record(z.string(), z.unknown()).optional(),
});
const topologySpreadConstraint = z.looseObject({
  maxSkew: z.number().int().min(1),
  topologyKey: text.min(1),
  whenUnsatisfiable: z.enum(["DoNotSchedule", "ScheduleAnyway"]),
});

const podSpec = z.strictObject({
  containers: list(container).optional(),
  initContainers: list(container).optional(),
  volumes: list(volume).optional(),
  nodeSelector: map(z.string().min(1).max(317), z.string().max(63)).optional(),
  tolerations: list(toleration).optional(),
  affinity: affinity.optional(),
  topologySpreadConstraints: list(topologySpreadConstraint).optional(),
  priorityClassName: objectName.optional(),
  imagePullSecrets: list(z.strictObject({ name: objectName })).optional(),
  securityContext: owned(`spec.securityContext ${SECURITY}`),
  serviceAccountName: owned("spec.serviceAccountName is owned by Meridian: Flink pods run as meridian-flink"),
  serviceAccount: owned("spec.serviceAccount is owned by Meridian: Flink pods run as meridian-flink"),
  automountServiceAccountToken: owned(
    "spec.automountServiceAccountToken is owned by Meridian: no token is mounted",
  ),
  hostNetwork: owned("spec.hostNetwork is never allowed in a pod template"),
  hostPID: owned("spec.hostPID is never allowed in a pod template"),
  hostIPC: owned("spec.hostIPC is never allowed in a pod template"),
  restartPolicy: owned("spec.restartPolicy is owned by Meridian (Never: the workspace agent recreates pods)"),
});

export const podTemplate = z.strictObject({
  apiVersion: z.literal("v1").optional(),
  kind: z.literal("Pod").optional(),
  metadata: metadata.optional(),
  spec: podSpec.optional(),
});
export type PodTemplate = z.infer<typeof podTemplate>;
export type PodTemplateContainer = z.infer<typeof container>;
