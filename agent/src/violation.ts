// One broken rule of the local policy, as the PolicyViolation condition reports it. Its own module
// so that the rule sets (policy.ts, storage-policy.ts) can share it without importing each other.

export interface Violation {
  /** The policy rule, e.g. `quotaCeilings.cpu`. */
  rule: string;
  message: string;
}
