import { describe, expect, it } from 'vitest';
import { splitCommandLine } from '../../src/mcp/command-line.ts';
import { toMcpContent, toMcpStopReason, toMessageParams, toToolChoice } from '../../src/mcp/convert.ts';
import { apiToolName, mcpResultContent } from '../../src/mcp/tools.ts';
import { InvalidRequestError } from '../../src/protocol/errors.ts';
import type { Message } from '../../src/protocol/message.ts';

describe('splitCommandLine', () => {
  it('splits on white space and honours quotes and escapes, without a shell', () => {
    expect(splitCommandLine('npx -y @modelcontextprotocol/server-everything')).toEqual([
      'npx',
      '-y',
      '@modelcontextprotocol/server-everything',
    ]);
    expect(splitCommandLine(`node "my server.js" --name 'a b' --x=\\$HOME ""`)).toEqual([
      'node',
      'my server.js',
      '--name',
      'a b',
      '--x=$HOME',
      '',
    ]);
    expect(splitCommandLine('say "he said \\"hi\\""')).toEqual(['say', 'he said "hi"']);
    expect(() => splitCommandLine('node "unclosed')).toThrow(/Unclosed/);
  });
});

describe('MCP sampling content', () => {
  it('text, images, tool calls and tool results become Messages API blocks', () => {
    expect(
      toMessageParams([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi' },
            { type: 'image', data: 'AAAA', mimeType: 'image/png' },
          ],
        },
        { role: 'assistant', content: { type: 'tool_use', id: 't1', name: 'lookup', input: { q: 'x' } } },
        {
          role: 'user',
          content: { type: 'tool_result', toolUseId: 't1', content: [{ type: 'text', text: 'found' }] },
        },
      ]),
    ).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Hi' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
        ],
      },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'lookup', input: { q: 'x' } }] },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'found' }] }],
      },
    ]);
  });

  it('audio and unsupported image types are refused with what to do, not dropped', () => {
    expect(() =>
      toMessageParams([{ role: 'user', content: { type: 'audio', data: 'AA', mimeType: 'audio/wav' } }]),
    ).toThrow(InvalidRequestError);
    expect(() =>
      toMessageParams([{ role: 'user', content: { type: 'image', data: 'AA', mimeType: 'image/tiff' } }]),
    ).toThrow(/PNG, JPEG, GIF or WebP/);
  });

  it('a tool result converts as mcpTools converts results: what the model cannot take is described', () => {
    const parts = [
      { type: 'text', text: 'chart:' },
      { type: 'image', data: 'AA', mimeType: 'image/tiff' },
      { type: 'audio', data: 'AAAA', mimeType: 'audio/wav' },
    ];
    const [turn] = toMessageParams([
      { role: 'user', content: { type: 'tool_result', toolUseId: 't1', content: parts } },
    ]);
    expect(turn?.content).toEqual([
      { type: 'tool_result', tool_use_id: 't1', content: mcpResultContent(parts) },
    ]);
    expect(mcpResultContent(parts)).toEqual([
      { type: 'text', text: 'chart:' },
      { type: 'text', text: '[image of type image/tiff, which the model cannot see]' },
      { type: 'text', text: '[audio of type audio/wav, 3 bytes]' },
    ]);
  });

  it('maps tool choice and stop reasons', () => {
    expect(toToolChoice({ mode: 'required' })).toEqual({ type: 'any' });
    expect(toToolChoice({ mode: 'none' })).toEqual({ type: 'none' });
    expect(toToolChoice(undefined)).toBeUndefined();
    expect(toMcpStopReason('end_turn')).toBe('endTurn');
    expect(toMcpStopReason('max_tokens')).toBe('maxTokens');
    expect(toMcpStopReason('refusal')).toBe('refusal');
  });

  it('the reply is one text block, or text and tool calls when tools were offered', () => {
    const message = {
      content: [
        { type: 'text', text: 'I will look.' },
        { type: 'tool_use', id: 't', name: 'lookup', input: { q: 'x' } },
      ],
    } as unknown as Message;
    expect(toMcpContent(message, false)).toEqual({ type: 'text', text: 'I will look.' });
    expect(toMcpContent(message, true)).toEqual([
      { type: 'text', text: 'I will look.' },
      { type: 'tool_use', id: 't', name: 'lookup', input: { q: 'x' } },
    ]);
  });
});

describe('apiToolName', () => {
  it('makes MCP tool names acceptable to the Messages API, without clashes', () => {
    const taken = new Set<string>();
    expect(apiToolName('get-sum', taken)).toBe('get-sum');
    expect(apiToolName('github.create_issue', taken)).toBe('github_create_issue');
    expect(apiToolName('github/create_issue', taken)).toBe('github_create_issue_2');
    expect(apiToolName('x'.repeat(200), taken)).toHaveLength(120);
  });
});

describe('mcpResultContent', () => {
  it('keeps text and images the model can see, and describes the rest in text', () => {
    expect(
      mcpResultContent([
        { type: 'text', text: 'plain' },
        { type: 'image', mimeType: 'image/png', data: 'iVBORw0KGgo=' },
        { type: 'image', mimeType: 'image/tiff', data: 'AAAA' },
        { type: 'audio', mimeType: 'audio/wav', data: 'AAAAAA==' },
        { type: 'resource_link', uri: 'file:///notes.md', name: 'notes' },
        { type: 'resource_link', uri: 'file:///bare' },
        { type: 'resource', resource: { uri: 'file:///a.txt', text: 'inside' } },
        {
          type: 'resource',
          resource: { uri: 'file:///a.bin', mimeType: 'application/octet-stream', blob: 'AA==' },
        },
        { type: 'something-new', value: 1 },
      ]),
    ).toEqual([
      { type: 'text', text: 'plain' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'text', text: '[image of type image/tiff, which the model cannot see]' },
      { type: 'text', text: '[audio of type audio/wav, 4 bytes]' },
      { type: 'text', text: '[resource file:///notes.md (notes)]' },
      { type: 'text', text: '[resource file:///bare]' },
      { type: 'text', text: 'inside' },
      { type: 'text', text: '[resource file:///a.bin of type application/octet-stream]' },
      { type: 'text', text: '{"type":"something-new","value":1}' },
    ]);
  });

  it('falls back to the structured content only when there is no content', () => {
    expect(mcpResultContent([], { total: 3 })).toEqual([{ type: 'text', text: '{"total":3}' }]);
    expect(mcpResultContent(undefined, { total: 3 })).toEqual([{ type: 'text', text: '{"total":3}' }]);
    expect(mcpResultContent([{ type: 'text', text: '3' }], { total: 3 })).toEqual([
      { type: 'text', text: '3' },
    ]);
    expect(mcpResultContent(undefined)).toEqual([]);
  });
});
