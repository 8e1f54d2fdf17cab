import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError, NotFoundError, OverloadedError } from '../../src/protocol/errors.ts';
import { openAIErrorBody } from '../../src/providers/openai/server/response.ts';
import { NO_PACING } from '../../src/providers/simulated/provider.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { listenBacklogOf } from '../helpers/sockets.ts';

describe('Simulator listening', () => {
  it('queues bursts of connections: a backlog of 4096 by default (capped at somaxconn), or the one given', async () => {
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    const byDefault = await Simulator.start();
    const given = await Simulator.start({ backlog: 64 });
    try {
      expect(listenBacklogOf(byDefault.url)).toBe(Math.min(4096, somaxconn));
      expect(listenBacklogOf(given.url)).toBe(64);
    } finally {
      await Promise.all([byDefault.close(), given.close()]);
    }
  });
});

describe('Simulator errors: the gateway’s own bodies', () => {
  const post = (url: string, path: string, body: unknown, fault?: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(fault === undefined ? {} : { 'x-sluice-fault': JSON.stringify(fault) }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const anthropicRequest = { model: 'default', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] };
  const openaiRequest = { model: 'default', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] };

  it('a status fault: Anthropic’s shape on /v1/messages, OpenAI’s on /v1/chat/completions, with the retry headers', async () => {
    const simulator = await Simulator.start({ pacing: NO_PACING });
    try {
      const fault = { status: 529, retryAfter: '2', message: 'Busy.' };
      const anthropic = await post(simulator.url, '/v1/messages', anthropicRequest, fault);
      expect(anthropic.status).toBe(529);
      expect(anthropic.headers.get('retry-after')).toBe('2');
      expect(await anthropic.json()).toEqual(new OverloadedError('Busy.').toBody());
      const openai = await post(simulator.url, '/v1/chat/completions', openaiRequest, fault);
      expect(openai.status).toBe(529);
      expect(await openai.json()).toEqual(openAIErrorBody(new OverloadedError('Busy.')));
      // A scripted type that no API has is sent as scripted: the fault plays an upstream.
      const odd = await post(simulator.url, '/v1/messages', anthropicRequest, {
        status: 503,
        errorType: 'odd_error',
      });
      expect(await odd.json()).toEqual({
        type: 'error',
        error: { type: 'odd_error', message: 'Simulated HTTP 503.' },
      });
    } finally {
      await simulator.close();
    }
  });

  it('a refused request and an unknown route, in the route’s shape', async () => {
    const simulator = await Simulator.start({ pacing: NO_PACING });
    try {
      const bad = await post(simulator.url, '/v1/messages', '{not json');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual(
        new InvalidRequestError('The request body is not valid JSON.').toBody(),
      );
      const badOpenAI = await post(simulator.url, '/v1/chat/completions', '{not json');
      expect(await badOpenAI.json()).toEqual(
        openAIErrorBody(new InvalidRequestError('The request body is not valid JSON.')),
      );
      const missing = await fetch(`${simulator.url}/v2/nothing`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual(new NotFoundError('No route GET /v2/nothing.').toBody());
    } finally {
      await simulator.close();
    }
  });

  it('a failure mid-stream on the OpenAI route is a data line with the OpenAI error body', async () => {
    const simulator = await Simulator.start({ pacing: NO_PACING });
    try {
      const response = await post(
        simulator.url,
        '/v1/chat/completions',
        { ...openaiRequest, stream: true },
        { errorAfterDeltas: 2, errorType: 'overloaded_error', message: 'Overloaded' },
      );
      const text = await response.text();
      const last = text.trim().split('\n\n').at(-1);
      expect(last).toBe(`data: ${JSON.stringify(openAIErrorBody(new OverloadedError('Overloaded')))}`);
    } finally {
      await simulator.close();
    }
  });
});
