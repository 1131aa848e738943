// The upstream of the gateway benchmark: one `echo` tool, over stdio (default) or, with `--http <port>`, served
// natively by the SDK (sessionful Streamable HTTP on 127.0.0.1, the floor of an HTTP hop). Prints
// `{"port":N}` when listening.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { z } from 'zod';

function build() {
  const server = new McpServer({ name: 'bench-echo', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echoes text', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
}

const httpIndex = process.argv.indexOf('--http');
if (httpIndex === -1) {
  await build().connect(new StdioServerTransport());
} else {
  const transports = new Map();
  const http = createServer(async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) {
      if (typeof id === 'string') {
        res.writeHead(404).end();
        return;
      }
      transport = new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => transports.set(sid, transport),
      });
      transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
      await build().connect(transport);
    }
    await transport.handleRequest(req, res);
  });
  http.keepAliveTimeout = 65_000;
  http.listen(Number(process.argv[httpIndex + 1] ?? 0), '127.0.0.1', () =>
    process.stdout.write(`${JSON.stringify({ port: http.address().port })}\n`),
  );
}
