/** Loads `.env` from the working directory if there is one; variables already set win. */
export function loadEnvFile(): void {
  try {
    process.loadEnvFile('.env');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** One line on stderr and exit status 1: how a start that cannot succeed ends. */
export function exitWithStartupError(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`autocode: ${message.split('\n')[0]}\n`);
  process.exit(1);
}
