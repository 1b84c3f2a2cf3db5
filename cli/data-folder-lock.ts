/**
 * One server per data folder. Two servers on the same journals would each
 * recover, write and prune them as if alone; a second `serve` (or `demo`)
 * on a folder in use stops at once, naming the process that holds it.
 *
 * The lock is `<data>/serve.pid`, created exclusively (O_EXCL) with this
 * process's pid and removed when it exits. A file whose process is gone
 * (after kill -9 or a power loss) is stale and taken over.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface DataFolderLock {
  release(): void;
}

/** Whether a process with this pid runs (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockDataFolder(dataDir: string, command: string): DataFolderLock {
  const file = path.join(path.resolve(dataDir), 'serve.pid');
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        process.removeListener('exit', release);
        fs.rmSync(file, { force: true });
      };
      process.on('exit', release);
      return { release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(fs.readFileSync(file, 'utf8').trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
      throw new Error(
        `${command}: the data folder ${path.dirname(file)} is in use by process ${holder} (another sigplane server); ` +
          `stop it, or give this one another folder with --data (SIGPLANE_DATA_DIR). If process ${holder} is not sigplane, delete ${file}`,
      );
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new Error(`${command}: could not lock the data folder (${file} keeps coming back)`);
}
