import assert from "node:assert/strict";
import { test } from "node:test";
import { deploymentSpec } from "@meridian/shared/protocol/index";
import { SPEC_INPUT } from "./spec.testutil.ts";
import { refuseSpec } from "./spec-policy.ts";

const spec = (image: string, jarURI: string) =>
  deploymentSpec.parse({ ...SPEC_INPUT, image, job: { ...SPEC_INPUT.job, jarURI } });
const policy = {
  allowedRegistries: ["docker.io/library/flink"],
  allowedJarURIs: ["s3://acme-jobs/releases"],
};

test("a spec within the local policy is not refused", () => {
  assert.equal(refuseSpec(spec("flink:2.3.0", "local:///opt/flink/usrlib/job.jar"), policy), undefined);
  assert.equal(refuseSpec(spec("flink:2.3.0", "s3://acme-jobs/releases/v1/job.jar"), policy), undefined);
});

test("the refusal names the field at fault: the image first, then the job jar", () => {
  const jar = refuseSpec(spec("flink:2.3.0", "http://169.254.169.254/latest/meta-data/"), policy);
  assert.equal(jar?.field, "job.jarURI");
  assert.match(jar?.message ?? "", /^jarURI has scheme "http:"/);
  const file = refuseSpec(spec("flink:2.3.0", "file:///etc/passwd"), policy);
  assert.match(file?.message ?? "", /scheme "file:"/);
  const both = refuseSpec(spec("evil.example.com/flink:1", "file:///etc/passwd"), policy);
  assert.equal(both?.field, "image");
});
