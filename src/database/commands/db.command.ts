import { Command, CommandRunner, SubCommand } from 'nest-commander';
import { DatabaseService } from '../database.service.js';

@SubCommand({ name: 'migrate', description: 'apply pending database migrations' })
export class DbMigrateCommand extends CommandRunner {
  constructor(private readonly database: DatabaseService) {
    super();
  }

  async run(): Promise<void> {
    const applied = await this.database.runMigrations();
    process.stdout.write(applied.length === 0 ? 'database is up to date\n' : applied.map((name) => `applied ${name}\n`).join(''));
  }
}

@Command({ name: 'db', description: 'database maintenance', subCommands: [DbMigrateCommand] })
export class DbCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
