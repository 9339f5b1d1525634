// Validates lb's admin API document against the OpenAPI 3 JSON schema.
// Usage: node validate.mjs [FILE] (default: lb-discover/openapi.yaml)
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2] ??
  path.join(path.dirname(new URL(import.meta.url).pathname), "..", "..", "lb-discover", "openapi.yaml");
const validator = new Validator();
const res = await validator.validate(file);
if (!res.valid) {
  console.error(`${file}: not a valid OpenAPI ${validator.version ?? ""} document:`);
  console.error(JSON.stringify(res.errors, null, 2));
  process.exit(1);
}
console.log(`${file}: valid OpenAPI ${validator.version}`);
