// Validates every YAML document under k8s/, with nothing outside the repository:
// - core kinds against kubernetes-models, Istio kinds against @kubernetes-models/istio, Gateway API
//   kinds against @kubernetes-models/gateway-api, Envoy Gateway kinds against
//   @kubernetes-models/envoy-gateway, cert-manager kinds against @kubernetes-models/cert-manager
//   (npm packages generated from the upstream OpenAPI schemas and CRDs);
// - when STREAMMASK_SCHEMAS names a folder of upstream CRD YAML files (CI points it at a copy of
//   the Envoy Gateway and Gateway API CRDs when one exists), the objects of those kinds are also
//   validated against those CRDs' schemas: an extra cross-check, never a requirement;
// - documents of kinds without a schema (kustomize, Helm values) are parsed and listed, so a new
//   kind never slips through unnoticed.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import Ajv from "ajv";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const crdValidators = new Map(); // "group/version Kind" -> validate fn
const schemaDir = process.env.STREAMMASK_SCHEMAS;
if (schemaDir) {
  if (!existsSync(schemaDir)) {
    console.error(`STREAMMASK_SCHEMAS=${schemaDir} does not exist`);
    process.exit(1);
  }
  for (const f of readdirSync(schemaDir).filter((f) => f.endsWith(".yaml"))) {
    const crd = YAML.parse(readFileSync(join(schemaDir, f), "utf8"));
    if (crd?.kind !== "CustomResourceDefinition") continue;
    for (const v of crd.spec.versions) {
      const schema = v.schema?.openAPIV3Schema;
      if (schema) crdValidators.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, ajv.compile(schema));
    }
  }
  console.log(`upstream CRD schemas from ${schemaDir}: ${crdValidators.size} kinds (extra cross-check)`);
}

// Kinds we know and accept without a schema (no maintained schema package for them).
const parsedOnly = new Set(["kustomize.config.k8s.io/v1beta1 Kustomization"]);

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const candidates = group.endsWith("istio.io")
    ? [`@kubernetes-models/istio/${group}/${version}`]
    : group.endsWith("gateway.networking.k8s.io")
      ? [`@kubernetes-models/gateway-api/${group}/${version}`]
      : group === "gateway.envoyproxy.io"
        ? [`@kubernetes-models/envoy-gateway/${group}/${version}`]
        : group.endsWith("cert-manager.io")
          ? [`@kubernetes-models/cert-manager/${group}/${version}`]
          : [group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`];
  for (const c of candidates) {
    try {
      const mod = await import(c);
      if (mod[kind]) return mod[kind];
    } catch {}
  }
  return null;
}

function yamlFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith(".yaml") ? [join(dir, e.name)] : []
  );
}

let failures = 0;
const counts = { crd: 0, model: 0, parsed: 0 };
for (const file of yamlFiles(join(root, "k8s")).sort()) {
  const rel = relative(root, file);
  const docs = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  for (const [i, doc] of docs.entries()) {
    const where = `${rel}#${i + 1}`;
    if (doc.errors.length) {
      console.error(`${where}: YAML error: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const obj = doc.toJS();
    if (obj == null) continue;
    if (!obj.apiVersion || !obj.kind) {
      // Helm values and the like: YAML that parses is all we can say
      console.log(`${where}: parsed (not a Kubernetes object)`);
      counts.parsed++;
      continue;
    }
    const key = `${obj.apiVersion} ${obj.kind}`;
    const crd = crdValidators.get(key);
    if (crd) {
      if (!crd(obj)) {
        console.error(`${where}: ${key} invalid against its upstream CRD schema: ${ajv.errorsText(crd.errors)}`);
        failures++;
      } else counts.crd++;
    }
    const Model = await modelFor(obj.apiVersion, obj.kind);
    if (Model) {
      try {
        new Model(obj).validate();
        counts.model++;
      } catch (e) {
        console.error(`${where}: ${key} invalid: ${e.message}`);
        failures++;
      }
      continue;
    }
    if (obj.kind === "Kustomization") {
      for (const r of obj.resources ?? []) {
        if (!existsSync(resolve(dirname(file), r))) {
          console.error(`${where}: resource ${r} does not exist`);
          failures++;
        }
      }
    }
    if (parsedOnly.has(key)) {
      console.log(`${where}: ${key}: parsed (no schema available offline)`);
      counts.parsed++;
      continue;
    }
    console.error(`${where}: ${key}: no schema for this kind; add one or list it as parsed-only`);
    failures++;
  }
}
console.log(`k8s manifests: ${counts.model} validated against schema packages, ${counts.crd} also against upstream CRDs, ${counts.parsed} parsed only, ${failures} failures`);
process.exit(failures ? 1 : 0);
