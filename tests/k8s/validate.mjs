// Validates every YAML document under k8s/:
// - Gateway API and Envoy Gateway objects against the CRD schemas in ../shared/schemas (ajv);
// - core kinds against kubernetes-models, Istio kinds against @kubernetes-models/istio (both
//   generated from the upstream OpenAPI schemas);
// - documents of kinds without a schema here (kustomize, cert-manager, other Envoy Gateway CRDs,
//   Helm values) are parsed and listed, so a new kind never slips through unnoticed.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import Ajv from "ajv";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
// The workplace's shared CRD schemas: next to the checkout, or at the workplace's fixed place.
const candidates = [process.env.STREAMMASK_SCHEMAS, resolve(root, "../shared/schemas"), "/work/shared/schemas"].filter(Boolean);
const schemaDir = candidates.find((d) => existsSync(join(d, "gateway.envoyproxy.io_envoyextensionpolicies.yaml")));
if (!schemaDir) {
  console.error(`CRD schemas not found (looked in ${candidates.join(", ")}); set STREAMMASK_SCHEMAS to the shared/schemas folder`);
  process.exit(1);
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const crdValidators = new Map(); // "group/version Kind" -> validate fn
for (const f of readdirSync(schemaDir).filter((f) => f.endsWith(".yaml"))) {
  const crd = YAML.parse(readFileSync(join(schemaDir, f), "utf8"));
  if (crd?.kind !== "CustomResourceDefinition") continue;
  for (const v of crd.spec.versions) {
    const schema = v.schema?.openAPIV3Schema;
    if (schema) crdValidators.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, ajv.compile(schema));
  }
}

// Kinds we know and accept without a schema (no maintained schema package available offline).
const parsedOnly = new Set([
  "kustomize.config.k8s.io/v1beta1 Kustomization",
  "cert-manager.io/v1 Certificate",
  "gateway.envoyproxy.io/v1alpha1 EnvoyProxy",
  "gateway.envoyproxy.io/v1alpha1 ClientTrafficPolicy",
  "gateway.envoyproxy.io/v1alpha1 BackendTrafficPolicy",
]);

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const candidates = group.endsWith("istio.io")
    ? [`@kubernetes-models/istio/${group}/${version}`]
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
        console.error(`${where}: ${key} invalid against its CRD schema: ${ajv.errorsText(crd.errors)}`);
        failures++;
      } else counts.crd++;
      continue;
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
console.log(`k8s manifests: ${counts.crd} validated against CRD schemas, ${counts.model} against kubernetes-models/istio, ${counts.parsed} parsed only, ${failures} failures`);
process.exit(failures ? 1 : 0);
