/** A small GraphQL client for the CLI: one POST per operation, errors turned into readable messages. */
export class VigilApiError extends Error {
  override readonly name = 'VigilApiError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface Connection {
  readonly url: string;
  readonly apiKey: string;
}

interface GraphQLResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export class VigilClient {
  constructor(private readonly connection: Connection) {}

  get url(): string {
    return this.connection.url;
  }

  async graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.connection.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.connection.apiKey}` },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      throw new VigilApiError(
        `cannot reach Vigil at ${this.connection.url}: ${(error as Error).message}`,
        'UNAVAILABLE',
      );
    }
    const text = await response.text();
    let body: GraphQLResponse<T> & { error?: { code: string; message: string } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new VigilApiError(`unexpected ${response.status} response from ${this.connection.url}`, 'INTERNAL');
    }
    if (body.error) throw new VigilApiError(body.error.message, body.error.code);
    if (body.errors && body.errors.length > 0) {
      const first = body.errors[0];
      throw new VigilApiError(body.errors.map((e) => e.message).join('; '), first?.extensions?.code ?? 'INTERNAL');
    }
    if (!body.data) throw new VigilApiError('empty response', 'INTERNAL');
    return body.data;
  }
}
