import { isRole } from '@vigil/contracts';
import { withClient, type GlobalOptions } from '../session';

export async function createKeyCommand(
  options: GlobalOptions & { role: string; name?: string; json?: boolean },
): Promise<void> {
  if (!isRole(options.role)) throw new Error(`--role must be viewer, operator or admin (got '${options.role}')`);
  const name = options.name ?? `${options.role} key`;
  const data = await withClient(options, (client) =>
    client.graphql<{
      createApiKey: { secret: string; apiKey: { id: string; prefix: string; role: string; name: string } };
    }>(
      `mutation CreateKey($name: String!, $role: Role!) { createApiKey(name: $name, role: $role) { secret apiKey { id name prefix role } } }`,
      { name, role: options.role.toUpperCase() },
    ),
  );
  if (options.json) {
    process.stdout.write(`${JSON.stringify(data.createApiKey)}\n`);
    return;
  }
  process.stdout.write(
    `Created ${data.createApiKey.apiKey.role.toLowerCase()} key '${data.createApiKey.apiKey.name}' (id ${data.createApiKey.apiKey.id}). It is shown once:\n\n  ${data.createApiKey.secret}\n\n`,
  );
}

export async function listKeysCommand(options: GlobalOptions): Promise<void> {
  const data = await withClient(options, (client) =>
    client.graphql<{
      apiKeys: {
        id: string;
        name: string;
        prefix: string;
        role: string;
        revokedAt: string | null;
        lastUsedAt: string | null;
      }[];
    }>(`{ apiKeys { id name prefix role revokedAt lastUsedAt } }`),
  );
  for (const key of data.apiKeys) {
    process.stdout.write(
      `${key.id}  ${key.role.toLowerCase().padEnd(8)}  vgl_${key.prefix}_…  ${key.name}${key.revokedAt ? '  (revoked)' : ''}\n`,
    );
  }
}

export async function revokeKeyCommand(id: string, options: GlobalOptions): Promise<void> {
  await withClient(options, (client) =>
    client.graphql(`mutation Revoke($id: ID!) { revokeApiKey(id: $id) { id } }`, { id }),
  );
  process.stdout.write(`revoked ${id}\n`);
}
