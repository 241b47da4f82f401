// validate.mjs - every Kubernetes object of deploy/k8s (the base and every
// overlay) against the Kubernetes schema, with kubernetes-models (its JSON
// schemas, per apiVersion and kind), and the settings that wasp's drain
// and security depend on.
//
//   node validate.mjs DEPLOY_K8S_DIR
//
// kubectl is not here, so the kustomizations are built by the few rules
// they use: resources (files of YAML documents, or directories with a
// kustomization.yaml), configMapGenerator and secretGenerator (files and
// literals; behavior create, replace or merge) and labels. Anything else in
// a kustomization is refused, so that this stays the truth about them.
// Prints "deploy: N passed, N failed"; exit status 1 when anything failed.
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

let passed = 0, failed = 0;
function check(cond, what, got) {
  if (cond) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL: ${what}${got === undefined ? "" : `: got ${JSON.stringify(got)}`}`);
  }
}

function readYaml(file) {
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"));
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

const KNOWN = new Set(["apiVersion", "kind", "resources", "configMapGenerator", "secretGenerator",
                       "labels"]);

function generated(gen, dir, kind) {
  const data = {}, binaryData = {};
  for (const f of gen.files || []) {
    const [key, file] = f.includes("=") ? f.split("=", 2) : [path.basename(f), f];
    const bytes = fs.readFileSync(path.join(dir, file));
    const text = bytes.toString("utf8");
    if (kind === "ConfigMap" && Buffer.from(text, "utf8").equals(bytes) && !text.includes("\0"))
      data[key] = text;
    else if (kind === "ConfigMap") binaryData[key] = bytes.toString("base64");
    else data[key] = bytes.toString("base64");
  }
  for (const l of gen.literals || []) {
    const i = l.indexOf("=");
    data[l.slice(0, i)] = kind === "Secret" ? Buffer.from(l.slice(i + 1)).toString("base64")
                                            : l.slice(i + 1);
  }
  const o = { apiVersion: "v1", kind, metadata: { name: gen.name }, data };
  if (Object.keys(binaryData).length) o.binaryData = binaryData;
  if (kind === "Secret") o.type = gen.type || "Opaque";
  return o;
}

// The objects a kustomization directory makes.
function build(dir) {
  const file = path.join(dir, "kustomization.yaml");
  const [k] = readYaml(file);
  for (const key of Object.keys(k))
    check(KNOWN.has(key), `${file}: '${key}' is a field this builder knows`, key);
  let objs = [];
  for (const r of k.resources || []) {
    const p = path.join(dir, r);
    if (fs.statSync(p).isDirectory()) objs = objs.concat(build(p));
    else objs = objs.concat(readYaml(p).map(o => ({ ...o, _from: p })));
  }
  for (const [field, kind] of [["configMapGenerator", "ConfigMap"], ["secretGenerator", "Secret"]]) {
    for (const g of k[field] || []) {
      const o = generated(g, dir, kind);
      const at = objs.findIndex(x => x.kind === kind && x.metadata.name === g.name);
      const behavior = g.behavior || "create";
      check((at >= 0) === (behavior !== "create"),
            `${file}: ${kind} ${g.name} with behavior ${behavior} ${at >= 0 ? "exists" : "is new"}`);
      if (behavior === "merge" && at >= 0) {
        objs[at].data = { ...objs[at].data, ...o.data };
        if (o.binaryData) objs[at].binaryData = { ...(objs[at].binaryData || {}), ...o.binaryData };
      } else if (at >= 0) {
        objs[at] = { ...o, _from: file };
      } else {
        objs.push({ ...o, _from: file });
      }
    }
  }
  for (const l of k.labels || [])
    for (const o of objs) o.metadata.labels = { ...(o.metadata.labels || {}), ...l.pairs };
  return objs;
}

async function model(o) {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : [null, o.apiVersion];
  const mod = `kubernetes-models/${group ? group + "/" : ""}${version}/${o.kind}`;
  return (await import(mod))[o.kind];
}

const root = process.argv[2];
const targets = [path.join(root, "base")].concat(
  fs.readdirSync(path.join(root, "overlays")).map(d => path.join(root, "overlays", d)));
for (const t of targets) {
  const name = path.relative(root, t);
  let objs;
  try {
    objs = build(t);
  } catch (e) {
    check(false, `${name}: builds`, e.message);
    continue;
  }
  check(objs.length > 0, `${name}: makes objects`);
  for (const o of objs) {
    const what = `${name}: ${o.kind} ${o.metadata && o.metadata.name}`;
    const { _from, ...obj } = o;
    let M;
    try {
      M = await model(obj);
    } catch (e) {
      check(false, `${what}: a kind of the Kubernetes API`, `${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      new M(obj).validate();
      check(true);
    } catch (e) {
      check(false, `${what} (${_from}) is valid against the schema`, e.message);
    }
    if (obj.kind === "ConfigMap" || obj.kind === "Secret") {
      const size = JSON.stringify(obj).length;
      check(size < 1000000, `${what}: under the 1 MiB object limit`, size);
    }
  }
  // what wasp's drain and its security depend on
  const d = objs.find(o => o.kind === "Deployment" && o.metadata.name === "wasp");
  check(d !== undefined, `${name}: has the wasp Deployment`);
  if (!d) continue;
  const pod = d.spec.template.spec, c = pod.containers.find(x => x.name === "wasp");
  const env = Object.fromEntries((c.env || []).filter(e => "value" in e).map(e => [e.name, e.value]));
  const delay = Number(env.WASP_DRAIN_DELAY_MS || 0), drain = Number(env.WASP_DRAIN_TIMEOUT_MS || 30000);
  check(pod.terminationGracePeriodSeconds * 1000 > delay + drain,
        `${name}: terminationGracePeriodSeconds covers the drain delay and timeout`,
        [pod.terminationGracePeriodSeconds, delay, drain]);
  const readyPort = c.readinessProbe && c.readinessProbe.httpGet;
  check(readyPort && readyPort.path === "/readyz", `${name}: readiness on /readyz`, readyPort);
  check(c.livenessProbe && c.livenessProbe.httpGet.path === "/healthz", `${name}: liveness on /healthz`);
  const probeMs = (c.readinessProbe.periodSeconds || 10) * 1000 * (c.readinessProbe.failureThreshold || 3);
  check(delay >= probeMs, `${name}: the drain delay outlasts the readiness probe's detection`,
        [delay, probeMs]);
  check(env.WASP_ADMIN && env.WASP_ADMIN.startsWith("0.0.0.0:"),
        `${name}: the admin listener on the pod's address, for probes and scraping`, env.WASP_ADMIN);
  const sc = c.securityContext || {};
  check(pod.securityContext.runAsNonRoot === true, `${name}: runs as non-root`);
  check(sc.readOnlyRootFilesystem === true, `${name}: read-only root filesystem`);
  check(sc.allowPrivilegeEscalation === false, `${name}: no privilege escalation`);
  check(c.resources && c.resources.requests && c.resources.limits, `${name}: resources set`);
  for (const kind of ["Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret"])
    check(objs.some(o => o.kind === kind), `${name}: has a ${kind}`);
  const mounts = new Set((c.volumeMounts || []).map(m => m.name));
  for (const v of pod.volumes || [])
    check(mounts.has(v.name), `${name}: volume ${v.name} is mounted`);
  for (const v of pod.volumes || []) {
    if (!v.configMap) continue;
    check(objs.some(o => o.kind === "ConfigMap" && o.metadata.name === v.configMap.name),
          `${name}: ConfigMap ${v.configMap.name} exists`);
  }
}
console.log(`deploy: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
