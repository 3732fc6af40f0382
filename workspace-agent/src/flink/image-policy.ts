// Which Flink images the local policy allows (MERIDIAN_FLINK_ALLOWED_REGISTRIES), with the reason a
// refusal reports upward. The matching rules are the shared ones (shared/src/policy/images.ts).
import { checkImage as checkAllowed } from "@meridian/shared/policy/images";

export { imageRepository } from "@meridian/shared/policy/images";

export type ImageCheck = { allowed: true } | { allowed: false; reason: string };

/** An empty list means no restriction (the agent always passes its policy's list). */
export function checkImage(image: string, allowed: readonly string[]): ImageCheck {
  const check = checkAllowed(image, allowed);
  if (check.allowed) return check;
  return {
    allowed: false,
    reason: `image ${JSON.stringify(image)} (${check.repository}) is not from an allowed registry (${allowed.join(", ")}); use an image from one of them or ask the cluster admin to extend allowedRegistries.flink in the local policy`,
  };
}
