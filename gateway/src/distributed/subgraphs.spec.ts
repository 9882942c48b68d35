import { describe, expect, it } from '@jest/globals';
import { parse } from 'graphql';
import { accessTypeDefs } from '../access/subgraph';
import { composeSupergraph } from '../federation';
import { ACCESS_SUBGRAPH_URL, parseSubgraphList, supergraphSubgraphs } from './subgraphs';

describe('parseSubgraphList', () => {
  it('reads name=url pairs, ignoring blanks and spaces', () => {
    expect(parseSubgraphList(' ingestion=http://a:4001/graphql, ,dataset = https://b/graphql ')).toEqual(
      new Map([
        ['ingestion', 'http://a:4001/graphql'],
        ['dataset', 'https://b/graphql'],
      ]),
    );
  });

  it('lists every bad entry at once', () => {
    expect(() => parseSubgraphList('access=http://x,foo=ftp://y,Bad,a=http://z,a=http://w')).toThrow(
      /'access' is served by the gateway itself; 'foo=ftp:\/\/y': .*not an http\(s\) URL; 'Bad': .*; 'a' is listed twice/,
    );
  });
});

describe('supergraphSubgraphs', () => {
  it('finds each subgraph and its URL in a composed supergraph', () => {
    const other = parse(`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query { ping: String }
    `);
    const sdl = composeSupergraph([
      { name: 'access', url: ACCESS_SUBGRAPH_URL, typeDefs: accessTypeDefs },
      { name: 'other', url: 'http://other:4009/graphql', typeDefs: other },
    ]);
    expect(supergraphSubgraphs(sdl)).toEqual(
      new Map([
        ['access', ACCESS_SUBGRAPH_URL],
        ['other', 'http://other:4009/graphql'],
      ]),
    );
  });

  it('rejects a document that is not a supergraph', () => {
    expect(() => supergraphSubgraphs('type Query { a: String }')).toThrow(/not a supergraph/);
  });
});
