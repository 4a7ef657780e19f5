/**
 * Parsed JSON from outside the tests' control: synthesized Terraform stacks (the shapes of thousands of
 * provider resource types), InfluxDB answers, executor replies. Checks read it field by field and the
 * assertions pin each field down, so its type stays open here, in this one place: `unknown` would need a
 * cast at every field, and a hand-written schema would only restate what the assertions already check.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the one open type of test support (see above)
export type Json = any;
