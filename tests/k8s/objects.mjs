// Kubernetes objects as the tests see them.
//   node objects.mjs validate [FILE]     validates each object of a JSON array or
//       List (FILE, else standard input) against its kind's schema: the Gateway
//       API's from @kubernetes-models/gateway-api, the others' from
//       kubernetes-models. Prints one JSON line per object
//       {"kind","name","valid","error"}; exits 1 when one is not valid.
//   node objects.mjs yaml FILE...        prints the documents of YAML files as
//       one JSON array (for tests that pick some of a manifest's objects).
import fs from "node:fs";
import yaml from "js-yaml";

const [command, ...files] = process.argv.slice(2);

async function model(apiVersion, kind) {
  const at = apiVersion.startsWith("gateway.networking.k8s.io/")
    ? `@kubernetes-models/gateway-api/${apiVersion}` : `kubernetes-models/${apiVersion}`;
  try {
    return (await import(at))[kind] ?? null;
  } catch {
    return null;
  }
}

if (command === "yaml") {
  const docs = files.flatMap((f) => yaml.loadAll(fs.readFileSync(f, "utf8")).filter(Boolean));
  console.log(JSON.stringify(docs));
} else if (command === "validate") {
  const input = JSON.parse(fs.readFileSync(files[0] ?? 0, "utf8"));
  const objects = Array.isArray(input) ? input : input.items ?? [input];
  let bad = 0;
  for (const obj of objects) {
    const out = { kind: obj?.kind ?? "?", name: obj?.metadata?.name ?? "?", valid: false };
    const Model = obj?.apiVersion && obj?.kind ? await model(obj.apiVersion, obj.kind) : null;
    if (!Model) {
      out.error = `no schema for ${obj?.apiVersion}/${obj?.kind}`;
    } else {
      try {
        new Model(obj).validate();
        out.valid = true;
      } catch (e) {
        out.error = e.message;
      }
    }
    if (!out.valid) bad++;
    console.log(JSON.stringify(out));
  }
  process.exit(bad ? 1 : 0);
} else {
  console.error("usage: node objects.mjs validate [FILE] | node objects.mjs yaml FILE...");
  process.exit(2);
}
