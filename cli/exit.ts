/**
 * How the CLI ends the process, set by its entry (hfs-config.ts), the one place that
 * may call process.exit. Commands that must end at once (a signal while waiting, a
 * lock's command done, a lease lost) call exit() here instead, so importing a command
 * module never ends anything by itself and a test can put its own exit in.
 */
let exiter: (code: number) => never = (code) => {
  throw new Error(`exit(${code}) before the CLI's entry set how to exit`);
};

export function setExit(fn: (code: number) => never): void {
  exiter = fn;
}

export function exit(code: number): never {
  return exiter(code);
}
