/** `sigplane migrate`: apply the versioned migrations (also done at every start). */
import { parseCommand, type CommandSpec } from './args';
import { dataOption, openContext } from './context';

const spec: CommandSpec = {
  usage: 'sigplane migrate [options]',
  summary: 'Apply database migrations. Safe to run twice and from two nodes at once.',
  options: { data: dataOption },
};

export async function migrateCommand(argv: string[]): Promise<void> {
  const values = parseCommand(spec, argv);
  if (values === null) return;
  const context = await openContext(values.data as string);
  await context.close();
  process.stdout.write('migrations applied\n');
}
