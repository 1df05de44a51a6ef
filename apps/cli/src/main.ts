#!/usr/bin/env node
/**
 * `praxa` — the operator's command line (`pnpm praxa <command>`). Config is loaded here, per command, never at import.
 */
import { Command } from 'commander';
import { isPraxaError } from '@praxa/core';
import { runDemo } from './commands/demo.js';
import { runMigrate } from './commands/migrate.js';
import { runSeed } from './commands/seed.js';

const program = new Command()
  .name('praxa')
  .description('Praxa: autonomous Skills in your GitHub and Slack, constrained by code and by the database.')
  .showHelpAfterError();

program
  .command('migrate')
  .description('create the roles (idempotent) and apply pending SQL migrations to DATABASE_URL')
  .action(async () => runMigrate(process.env));

program
  .command('seed')
  .description('provision a demo tenant, workspace, GitHub integration and Skill (prints their ids)')
  .action(async () => runSeed(process.env));

program
  .command('demo')
  .description('set up and run the live demo end to end on embedded defaults')
  .option('--keep', 'keep the fleet running after the demo and print where to look')
  .action(async (opts: { keep?: boolean }) => runDemo(process.env, { keep: opts.keep === true }));

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isPraxaError(err)) {
    console.error(`praxa: ${err.code}: ${err.message}`);
  } else {
    console.error(`praxa: unexpected error: ${err instanceof Error ? err.name : 'unknown'}`);
    if (process.env.PRAXA_DEBUG) console.error(err);
  }
  process.exit(1);
});
