// Building blocks shared by every message of protocol v1.
import { z } from "zod";
import {
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_EVENT_ID_LENGTH,
  MAX_IMAGE_LENGTH,
  MAX_QUANTITY_LENGTH,
} from "./limits.ts";

/** Protocol version spoken by this build; sent in PROTOCOL_HEADER on every request and response. */
export const PROTOCOL_VERSION = "1";
export const PROTOCOL_HEADER = "meridian-protocol-version";

/** A DNS-1123 label of at most `max` characters (Kubernetes names are built from these). */
export const dnsLabel = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(
      /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
      "must be lowercase letters, digits and '-', start and end alphanumeric",
    );

/** A DNS-1035 label (starts with a letter): what a Service name must be. */
export const dns1035Label = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(
      /^[a-z]([-a-z0-9]*[a-z0-9])?$/,
      "must be lowercase letters, digits and '-', start with a letter and end alphanumeric",
    );

/** A Kubernetes resource quantity such as `500m`, `2`, `1Gi`, `512Mi`. */
export const quantity = z
  .string()
  .max(MAX_QUANTITY_LENGTH)
  .regex(
    /^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/,
    "must be a Kubernetes quantity such as 500m, 2, 1Gi",
  );

/**
 * A container image reference as container runtimes parse it (the distribution/reference grammar):
 * `[host[:port]/]path[:tag][@digest]`, lowercase path components. What a runtime cannot parse is
 * refused here rather than judged by the registry policy as text: `ghcr.io/org/../evil/x` lies under
 * `ghcr.io/org` as a string, a line break or a space would hide a second reference, and the API
 * server refuses leading and trailing spaces only after the rest of a workspace was written.
 */
const HOST_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const PATH_PART = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_REFERENCE = new RegExp(
  `^(?:${HOST_PART}(?:\\.${HOST_PART})*(?::[0-9]+)?/)?${PATH_PART}(?:/${PATH_PART})*` +
    "(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$",
);
export const imageReference = z
  .string()
  .min(1)
  .max(MAX_IMAGE_LENGTH)
  .regex(
    IMAGE_REFERENCE,
    "must be an image reference such as registry.example.com/team/image:tag (lowercase path, no spaces, '..' or line breaks)",
  );

export const generation = z.number().int().min(1);

/**
 * The control plane's epoch (docs/protocol.md "Epochs"): optional, absent is epoch 0; a control plane
 * that lost its data continues with a higher one. Generations compare only within one epoch.
 */
export const epoch = z.number().int().min(1);

/** A check for records (zod has no `.max()` on them): at most `max` keys. */
export const maxEntries = (max: number) =>
  z.refine<Record<string, unknown>>((o) => Object.keys(o).length <= max, {
    message: `must have at most ${max} entries`,
  });

export const resources = z.object({
  cpu: quantity,
  memory: quantity,
});
export type Resources = z.infer<typeof resources>;

export const conditionStatus = z.enum(["True", "False", "Unknown"]);
export const condition = z.object({
  type: z.string().min(1),
  status: conditionStatus,
  reason: z.string().min(1),
  message: z.string(),
  lastTransitionTime: z.iso.datetime(),
});
export type Condition = z.infer<typeof condition>;

/** Error body of every non-2xx answer from the control plane. */
export const errorCode = z.enum([
  "unauthorized",
  "forbidden",
  "not_found",
  "invalid",
  "protocol_version_unsupported",
  "unavailable",
]);
export type ErrorCode = z.infer<typeof errorCode>;
export const errorBody = z.object({
  error: z.object({ code: errorCode, message: z.string().max(MAX_ERROR_MESSAGE_LENGTH) }),
});
export type ErrorBody = z.infer<typeof errorBody>;

/** What an agent reports about messages it refused, so the control plane sees bad input. */
export const rejectedEvents = z.object({
  count: z.number().int().min(0),
  last: z
    .object({
      eventId: z.string().max(MAX_EVENT_ID_LENGTH).optional(),
      eventType: z.string(),
      error: z.string(),
      at: z.iso.datetime(),
    })
    .optional(),
});
export type RejectedEvents = z.infer<typeof rejectedEvents>;
