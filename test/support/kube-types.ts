// Type-checks Kubernetes manifests against the API's TypeScript definitions (the kubernetes-types package): an
// unknown field (a typo) or a value of the wrong type is a compile error. No cluster, no network.

import { createRequire } from "node:module";
import { join } from "node:path";
import ts from "typescript";
import { ROOT, type Manifest } from "./deploy-files.js";

/** True when kubernetes-types can be resolved from the repository (it is a devDependency). */
export function kubeTypesInstalled(): boolean {
  try {
    createRequire(join(ROOT, "package.json")).resolve("kubernetes-types/package.json");
    return true;
  } catch {
    return false;
  }
}

/** "apps/v1" → "apps/v1", "v1" → "core/v1", "rbac.authorization.k8s.io/v1" → "rbac/v1": kubernetes-types' layout. */
function typesModule(apiVersion: string): string {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["core", apiVersion];
  return `kubernetes-types/${group!.split(".")[0]}/${version}.js`;
}

/** One message per problem, naming the manifest; empty when every manifest type-checks. */
export function kubeTypeErrors(manifests: readonly Manifest[]): string[] {
  // One virtual source file per document, placed in the repository so that node_modules resolves.
  const sources = new Map<string, { manifest: Manifest; text: string }>();
  manifests.forEach((manifest, i) => {
    const text = `export const manifest: import("${typesModule(manifest.doc.apiVersion)}").${manifest.kind} = ${JSON.stringify(manifest.doc, null, 2)};\n`;
    sources.set(join(ROOT, `.deploy-manifest-${i}.ts`), { manifest, text });
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    const virtual = sources.get(fileName);
    return virtual !== undefined ? ts.createSourceFile(fileName, virtual.text, languageVersion) : getSourceFile(fileName, languageVersion, ...rest);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => sources.has(fileName) || fileExists(fileName);
  const program = ts.createProgram({ rootNames: [...sources.keys()], options, host });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const source = diagnostic.file === undefined ? undefined : sources.get(diagnostic.file.fileName);
    const where = source === undefined ? diagnostic.file?.fileName ?? "" : `${source.manifest.file} ${source.manifest.kind}/${source.manifest.name}`;
    return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
  });
}
