import { isRole } from '@vigil/contracts';
import { VigilApiError } from '../client';
import { withClient, type GlobalOptions } from '../session';

export async function createKeyCommand(
  options: GlobalOptions & { role: string; name?: string; json?: boolean; sigv4?: boolean },
): Promise<void> {
  if (!isRole(options.role)) throw new Error(`--role must be viewer, operator or admin (got '${options.role}')`);
  const name = options.name ?? `${options.role} key`;
  if (options.sigv4) {
    await createAccessKeyPairCommand(options, name);
    return;
  }
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
      accessKeyPairs: { id: string; name: string; accessKeyId: string; role: string; revokedAt: string | null }[];
    }>(
      `{ apiKeys { id name prefix role revokedAt lastUsedAt } accessKeyPairs { id name accessKeyId role revokedAt } }`,
    ),
  );
  for (const key of data.apiKeys) {
    process.stdout.write(
      `${key.id}  ${key.role.toLowerCase().padEnd(8)}  vgl_${key.prefix}_…  ${key.name}${key.revokedAt ? '  (revoked)' : ''}\n`,
    );
  }
  for (const pair of data.accessKeyPairs) {
    process.stdout.write(
      `${pair.id}  ${pair.role.toLowerCase().padEnd(8)}  ${pair.accessKeyId} (sigv4)  ${pair.name}${pair.revokedAt ? '  (revoked)' : ''}\n`,
    );
  }
}

export async function revokeKeyCommand(id: string, options: GlobalOptions): Promise<void> {
  await withClient(options, async (client) => {
    try {
      await client.graphql(`mutation Revoke($id: ID!) { revokeApiKey(id: $id) { id } }`, { id });
    } catch (error) {
      // Not an API key: perhaps a SigV4 access key pair (ids are UUIDs, unique across both).
      if (!(error instanceof VigilApiError) || error.code !== 'NOT_FOUND') throw error;
      await client.graphql(`mutation RevokePair($id: ID!) { revokeAccessKeyPair(id: $id) { id } }`, { id });
    }
  });
  process.stdout.write(`revoked ${id}\n`);
}

/** An AccessKeyId and SecretAccessKey for AWS SigV4 clients of the Lookout-compatible API. */
async function createAccessKeyPairCommand(
  options: GlobalOptions & { role: string; json?: boolean },
  name: string,
): Promise<void> {
  const data = await withClient(options, (client) =>
    client.graphql<{
      createAccessKeyPair: {
        secretAccessKey: string;
        accessKeyPair: { id: string; name: string; accessKeyId: string; role: string };
      };
    }>(
      `mutation CreatePair($name: String!, $role: Role!) { createAccessKeyPair(name: $name, role: $role) { secretAccessKey accessKeyPair { id name accessKeyId role } } }`,
      { name, role: options.role.toUpperCase() },
    ),
  );
  const created = data.createAccessKeyPair;
  if (options.json) {
    process.stdout.write(`${JSON.stringify(created)}\n`);
    return;
  }
  process.stdout.write(
    `Created ${created.accessKeyPair.role.toLowerCase()} SigV4 key pair '${created.accessKeyPair.name}' (id ${created.accessKeyPair.id}). The secret is shown once:\n\n` +
      `  AccessKeyId:     ${created.accessKeyPair.accessKeyId}\n  SecretAccessKey: ${created.secretAccessKey}\n\n` +
      `Use them as AWS credentials with the Lookout for Vision API at <vigil-url>/ (e.g. boto3 endpoint_url).\n`,
  );
}
