#!/usr/bin/env node
import { isLocal, runRemote } from './cli/program.js';
import { serverConfigured } from './cli/remote/contexts.js';
import { loadEnvFile } from './startup.js';

// Two kinds of command share the `autocode` name: the admin commands run on the server's own
// modules and database (loaded only for them, see cli/admin.ts), and the remote ones talk to a
// server through @autocode/client and start in a fraction of that time.

// `autocode runs list | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
loadEnvFile();
const argv = process.argv.slice(2);
const hasServer = serverConfigured();
if (isLocal(argv, hasServer)) {
  await (await import('./cli/admin.js')).administer(argv);
} else {
  process.exit(await runRemote(argv, hasServer));
}
