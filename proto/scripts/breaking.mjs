// Fails when the .proto files in the work tree break the wire or JSON form of the contracts at a git revision
// (default HEAD, or VIGIL_PROTO_BREAKING_BASE, or the first argument). Offline: the old files come from the local
// repository with `git archive`, and buf compares the two folders. Nothing to compare when the revision has no
// proto/ yet, or when this is not a git checkout.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const base = process.argv[2] ?? process.env.VIGIL_PROTO_BREAKING_BASE ?? 'HEAD';

function git(args) {
  return spawnSync('git', args, { cwd: here, encoding: 'utf8' });
}

const prefix = git(['rev-parse', '--show-prefix']);
if (prefix.status !== 0) {
  console.log('proto breaking check: not a git checkout; nothing to compare');
  process.exit(0);
}
const folder = prefix.stdout.trim().replace(/\/$/, '');
if (git(['cat-file', '-e', `${base}:${folder}/buf.yaml`]).status !== 0) {
  console.log(`proto breaking check: ${base} has no ${folder}/buf.yaml; nothing to compare`);
  process.exit(0);
}

const scratch = mkdtempSync(path.join(tmpdir(), 'vigil-proto-'));
try {
  const top = git(['rev-parse', '--show-toplevel']).stdout.trim();
  const archive = execFileSync('git', ['archive', '--format=tar', base, folder], { cwd: top, maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', scratch], { input: archive });
  const result = spawnSync('buf', ['breaking', '--against', path.join(scratch, folder)], {
    cwd: here,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error(`proto breaking check: the contracts break compatibility with ${base} (see proto/README.md)`);
    process.exit(result.status ?? 1);
  }
  console.log(`proto breaking check: compatible with ${base}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
