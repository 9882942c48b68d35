import { Argument, Command, Option } from 'commander';
import { startCommand } from './commands/start';
import { migrateCommand } from './commands/migrate';
import { createKeyCommand, listKeysCommand, revokeKeyCommand } from './commands/keys';
import { exportManifestCommand, importFolderCommand, importManifestCommand } from './commands/imports';
import { SERVABLE, serveCommand } from './commands/serve';
import { deadLettersCommand, replayJobCommand } from './commands/jobs';

function withConnectionOptions(command: Command): Command {
  return command
    .option(
      '--url <url>',
      'Vigil API base URL (default: the server running on the data directory, or an embedded one)',
      process.env['VIGIL_URL'],
    )
    .option('--api-key <key>', 'API key (default: VIGIL_API_KEY, or the data directory admin key)')
    .option('--data-dir <dir>', 'data directory of the embedded mode (default: VIGIL_DATA_DIR or ./.vigil)');
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('vigil').description('Vigil: self-hosted visual inspection').showHelpAfterError();

  program
    .command('start')
    .description('run Vigil in one process (gateway, every service and the workers)')
    .option('--port <port>', 'HTTP port (default: PORT or 4000)')
    .option('--data-dir <dir>', 'data directory (default: VIGIL_DATA_DIR or ./.vigil)')
    .action(startCommand);

  program
    .command('serve')
    .description('run one service of the distributed mode (configured by its environment: see its README)')
    .addArgument(new Argument('<service>', 'the service to run').choices(SERVABLE))
    .action(serveCommand);

  program
    .command('migrate')
    .description('bring the database schema up to date')
    .option('--data-dir <dir>')
    .action(migrateCommand);

  const keys = program.command('keys').description('manage API keys');
  withConnectionOptions(keys.command('create').description('create an API key'))
    .addOption(
      new Option('--role <role>', 'role of the key').choices(['viewer', 'operator', 'admin']).makeOptionMandatory(),
    )
    .option('--name <name>', 'a name to recognise the key by')
    .option('--sigv4', 'create an AWS SigV4 access key pair (AccessKeyId + SecretAccessKey) for the Lookout API')
    .option('--json', 'print JSON')
    .action(createKeyCommand);
  withConnectionOptions(keys.command('list').description('list API keys')).action(listKeysCommand);
  withConnectionOptions(keys.command('revoke <id>').description('revoke an API key')).action(revokeKeyCommand);

  withConnectionOptions(
    program
      .command('import <source>')
      .description('import a folder or s3:// prefix (Lookout, MVTec AD or plain layout) into a project'),
  )
    .requiredOption('--project <name>', 'project name (created if missing)')
    .addOption(new Option('--dataset <type>', 'for a plain folder: the dataset to fill').choices(['train', 'test']))
    .addOption(
      new Option('--label <label>', 'for a plain folder: the label of every image').choices([
        'normal',
        'anomaly',
        'unlabelled',
      ]),
    )
    .option('--label-from-name', 'for a plain folder: label each image from its file name (test-anomaly-3.jpg)')
    .option('--json', 'print the job as JSON')
    .action(importFolderCommand);

  const manifest = program.command('manifest').description('Ground Truth / Lookout manifests');
  withConnectionOptions(manifest.command('import <manifest>').description('import a manifest file or s3:// URI'))
    .requiredOption('--project <name>', 'project name (created if missing)')
    .addOption(new Option('--dataset <type>', 'dataset to fill').choices(['train', 'test']).default('train'))
    .option('--allow-partial', 'keep the good lines when some fail')
    .option('--json', 'print the job as JSON')
    .action(importManifestCommand);
  withConnectionOptions(manifest.command('export').description("print or write a dataset's manifest"))
    .requiredOption('--project <name>', 'project name')
    .addOption(new Option('--dataset <type>', 'dataset').choices(['train', 'test']).default('train'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(exportManifestCommand);

  const jobs = program.command('jobs').description('background jobs: the dead-letter queue (admin)');
  withConnectionOptions(jobs.command('dead-letters').description('list jobs that failed for good, newest first'))
    .option('--queue <queue>', 'only this queue (e.g. inference-batch)')
    .option('--kind <kind>', 'only this job kind')
    .option('--first <n>', 'page size (1-500)', '50')
    .option('--after <cursor>', 'the cursor printed by the previous page')
    .option('--json', 'print the page as JSON')
    .action(deadLettersCommand);
  withConnectionOptions(
    jobs.command('replay <id>').description('run a dead letter again with a renewed attempts budget'),
  )
    .option('--json', 'print the job as JSON')
    .action(replayJobCommand);

  await program.parseAsync([...argv]);
}
