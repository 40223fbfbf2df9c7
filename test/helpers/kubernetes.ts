import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

// Kubernetes manifests checked without a cluster: against the API's JSON schemas, and type-checked
// against the API's TypeScript interfaces, which reject unknown fields at any depth.

export interface Manifest {
  file: string;
  index: number;
  // Manifests are read as the plain objects YAML gives.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  object: Record<string, any>;
}

/** Each kind the manifests may use: the runtime model (JSON-schema validation) and its TypeScript interface. */
// The models take their kind's interface; manifests are checked against it by typeCheckManifests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const KINDS: Record<string, { model: new (data: any) => { validate(): void }; module: string; type: string }> = {
  'apps/v1 Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'apps/v1 StatefulSet': { model: StatefulSet, module: 'kubernetes-models/apps/v1/StatefulSet', type: 'IStatefulSet' },
  'autoscaling/v2 HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler, module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', type: 'IHorizontalPodAutoscaler' },
  'v1 Service': { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1 ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1 Secret': { model: Secret, module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  'v1 PersistentVolumeClaim': { model: PersistentVolumeClaim, module: 'kubernetes-models/v1/PersistentVolumeClaim', type: 'IPersistentVolumeClaim' },
  'policy/v1 PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
};

/** Every YAML document of the directory's files (not its subdirectories), kustomization.yaml aside. */
export function loadManifests(dir: string): Manifest[] {
  const manifests: Manifest[] = [];
  const files = readdirSync(dir).filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml').sort();
  for (const file of files) {
    const documents = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
    if (!Array.isArray(documents)) throw new Error(`${file}: not YAML documents`);
    documents.forEach((document, index) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((error) => error.message).join('; ')}`);
      const object = document.toJS() as Manifest['object'] | null;
      if (object !== null) manifests.push({ file, index, object });
    });
  }
  return manifests;
}

/**
 * The JSON-schema validators of kubernetes-models accept fields the API does not know (a typo such
 * as `readinesProbe` would pass them, and the API server would reject or drop it). Its TypeScript
 * interfaces do not: each manifest is type-checked as an object literal of its kind's interface,
 * whose excess-property checks reject any unknown field at any depth.
 */
export function typeCheckManifests(manifests: Manifest[], where: string): string[] {
  const virtualFile = join(import.meta.dirname, '..', '__deploy_manifests__.ts');
  const imports = Object.values(KINDS).map((kind) => `import type { ${kind.type} } from '${kind.module}';`);
  const declarations = manifests.map((manifest, n) => {
    const kind = KINDS[`${manifest.object.apiVersion} ${manifest.object.kind}`];
    return `export const manifest${n}: ${kind?.type ?? 'never'} = ${JSON.stringify(manifest.object)};`;
  });
  const source = [...imports, ...declarations].join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (fileName, languageVersion, ...rest) =>
    fileName === virtualFile ? ts.createSourceFile(fileName, source, languageVersion, true) : getSourceFile.call(host, fileName, languageVersion, ...rest);
  host.fileExists = (fileName) => fileName === virtualFile || fileExists.call(host, fileName);
  host.readFile = (fileName) => (fileName === virtualFile ? source : readFile.call(host, fileName));
  const program = ts.createProgram([virtualFile], options, host);
  const sourceFile = program.getSourceFile(virtualFile)!;
  const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
  return diagnostics.map((diagnostic) => {
    const line = diagnostic.start === undefined ? -1 : sourceFile.getLineAndCharacterOfPosition(diagnostic.start).line;
    const manifest = manifests[line - imports.length];
    const place = manifest ? `${manifest.file} (${manifest.object.kind}, document ${manifest.index + 1})` : where;
    return `${place}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
  });
}
