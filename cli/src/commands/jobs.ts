import { withClient, type GlobalOptions } from '../session';

interface DeadLetter {
  id: string;
  queue: string;
  kind: string;
  status: string;
  attempts: number;
  createdAt: string;
  finishedAt: string | null;
  createdBy: string;
  payload: unknown;
  error: { code: string; message: string; attempt: number | null } | null;
}

const FIELDS = 'id queue kind status attempts createdAt finishedAt createdBy payload error { code message attempt }';

/** `vigil jobs dead-letters`: failed jobs, newest first, one page at a time (admin). */
export async function deadLettersCommand(
  options: GlobalOptions & { queue?: string; kind?: string; first?: string; after?: string; json?: boolean },
): Promise<void> {
  const first = options.first === undefined ? 50 : Number(options.first);
  if (!Number.isInteger(first) || first < 1 || first > 500) throw new Error('--first must be between 1 and 500');
  const data = await withClient(options, (client) =>
    client.graphql<{
      deadLetters: { nodes: DeadLetter[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    }>(
      `query DeadLetters($filter: DeadLetterFilter, $first: Int, $after: String) {
        deadLetters(filter: $filter, first: $first, after: $after) { nodes { ${FIELDS} } pageInfo { hasNextPage endCursor } }
      }`,
      {
        filter: { ...(options.queue ? { queue: options.queue } : {}), ...(options.kind ? { kind: options.kind } : {}) },
        first,
        ...(options.after ? { after: options.after } : {}),
      },
    ),
  );
  if (options.json) {
    process.stdout.write(`${JSON.stringify(data.deadLetters)}\n`);
    return;
  }
  const { nodes, pageInfo } = data.deadLetters;
  if (nodes.length === 0) process.stdout.write('no dead letters\n');
  for (const job of nodes) {
    const error = job.error ? `${job.error.code}: ${job.error.message}` : '(no error recorded)';
    process.stdout.write(
      `${job.id}  ${`${job.queue}/${job.kind}`.padEnd(28)}  attempts ${job.attempts}  ${job.finishedAt ?? job.createdAt}  ${error}\n`,
    );
  }
  if (pageInfo.hasNextPage && pageInfo.endCursor) {
    process.stdout.write(`more: vigil jobs dead-letters --after ${pageInfo.endCursor}\n`);
  }
}

/** `vigil jobs replay <id>`: runs a dead letter again with a renewed attempts budget (admin, audit-logged). */
export async function replayJobCommand(id: string, options: GlobalOptions & { json?: boolean }): Promise<void> {
  const data = await withClient(options, (client) =>
    client.graphql<{ replayDeadLetter: DeadLetter }>(
      `mutation Replay($id: ID!) { replayDeadLetter(id: $id) { ${FIELDS} } }`,
      { id },
    ),
  );
  if (options.json) {
    process.stdout.write(`${JSON.stringify(data.replayDeadLetter)}\n`);
    return;
  }
  const job = data.replayDeadLetter;
  process.stdout.write(`replayed ${job.id} (${job.queue}/${job.kind}): ${job.status.toLowerCase()}\n`);
}
