/**
 * `sluice/mcp`: answer MCP servers' sampling requests with any Sluice model, and use their
 * tools in chats. Needs the optional peer dependency `@modelcontextprotocol/sdk`.
 */

export { type ConnectMcpOptions, connectMcp, McpConnectError } from '../mcp/client.ts';
export {
  type SamplingHandler,
  type SamplingHandlerOptions,
  type SamplingRequestParams,
  type SamplingResult,
  samplingHandler,
} from '../mcp/sampling.ts';
export { mcpTools } from '../mcp/tools.ts';
