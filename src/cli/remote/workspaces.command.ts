import { Command } from 'commander';
import { printJson, printTable } from '../../common/cli-output.js';
import { connect } from './connection.js';
import { contextOption } from './run.command.js';
import { errorOf } from './runs.command.js';

interface Common {
  context?: string;
  json?: boolean;
}

function createCommand(): Command {
  return new Command('create')
    .description('make a named workspace: a clone of a repository (at a branch, tag or commit), or empty')
    .argument('<name>', 'its name, used by `autocode run --workspace`')
    .option('--repo <url>', 'the repository to clone (the server allows the schemes of WORKSPACE_REPO_SCHEMES)')
    .option('--ref <ref>', 'branch, tag or commit to check out')
    .option('--idempotency-key <key>', 'a retried create with the same key and body answers the first one')
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (name: string, options: Common & { repo?: string; ref?: string; idempotencyKey?: string }) => {
      const { client } = connect(options.context);
      const answer = await client.POST('/api/v1/workspaces', {
        body: { name, ...(options.repo !== undefined && { repoUrl: options.repo }), ...(options.ref !== undefined && { ref: options.ref }) },
        params: { header: options.idempotencyKey === undefined ? {} : { 'Idempotency-Key': options.idempotencyKey } },
      });
      if (!answer.response.ok || !answer.data) throw errorOf(answer);
      if (options.json) return printJson(answer.data);
      process.stdout.write(`${answer.data.name}${answer.data.repoUrl ? ` (${answer.data.repoUrl}${answer.data.ref ? ` at ${answer.data.ref}` : ''})` : ' (empty)'}\n`);
    });
}

function listCommand(): Command {
  return new Command('list')
    .description('your workspaces')
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (options: Common) => {
      const answer = await connect(options.context).client.GET('/api/v1/workspaces', { params: { query: { limit: 100 } } });
      if (!answer.response.ok || !answer.data) throw errorOf(answer);
      if (options.json) return printJson(answer.data);
      printTable(
        answer.data.items.map((workspace) => ({ name: workspace.name, repository: workspace.repoUrl ?? '', ref: workspace.ref ?? '', created: workspace.createdAt })),
        ['name', 'repository', 'ref', 'created'],
      );
    });
}

function deleteCommand(): Command {
  return new Command('delete')
    .description('remove a workspace and its files')
    .argument('<name>', 'the workspace')
    .addOption(contextOption())
    .action(async (name: string, options: Common) => {
      const answer = await connect(options.context).client.DELETE('/api/v1/workspaces/{name}', { params: { path: { name } } });
      if (!answer.response.ok) throw errorOf(answer);
    });
}

export function workspacesCommand(): Command {
  return new Command('workspaces').description('named workspaces on the server: create, list, delete').addCommand(createCommand()).addCommand(listCommand()).addCommand(deleteCommand());
}
