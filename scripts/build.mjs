// Builds the package: dist/ from src/ (ESM JavaScript and declarations), then dist/cjs-types/, a copy of
// the declarations that TypeScript reads as CommonJS (its package.json says so). A CommonJS project
// compiled with moduleResolution node16 refuses ESM declarations (TS1479) even though Node >= 20.19
// loads the ESM build with require(); the "require" condition of the exports map points there.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);

const cjsTypes = path.join(dist, 'cjs-types');
function copyDeclarations(from, to) {
  for (const name of readdirSync(from)) {
    const full = path.join(from, name);
    if (full === cjsTypes) continue;
    if (statSync(full).isDirectory()) copyDeclarations(full, path.join(to, name));
    else if (name.endsWith('.d.ts')) {
      mkdirSync(to, { recursive: true });
      cpSync(full, path.join(to, name));
    }
  }
}
copyDeclarations(dist, cjsTypes);
writeFileSync(path.join(cjsTypes, 'package.json'), '{ "type": "commonjs" }\n');

// The pipeline schema's validator as ajv standalone code: `pythia run` loads it instead of compiling
// the schema at every start (dist/config/pipeline-validator.js uses it while it matches the schema).
const { pipelineValidatorSource, PREBUILT_FILE } = await import(pathToFileURL(path.join(dist, 'config', 'pipeline-validator.js')).href);
writeFileSync(path.join(dist, 'config', PREBUILT_FILE), pipelineValidatorSource());
