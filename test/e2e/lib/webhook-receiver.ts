// A real HTTP receiver on loopback for the notification sinks of the controller processes under
// test: it records every request (path, body, User-Agent, when) and answers each path as told:
// 200, "500 the first time a notification comes, 200 after", never (the request hangs open), or
// later (held until the test releases it: "the receiver took it, its sender never heard").
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a path answers: a status, 'fail-first' (500, then 200 for the same body id), 'hang', or 'hold' (until release()). */
export type Behaviour = number | 'fail-first' | 'hang' | 'hold' | ((request: ReceivedRequest) => number | 'hang' | 'hold');

export interface ReceivedRequest {
  /** The first path segment (the sink's name in these tests). */
  sink: string;
  path: string;
  userAgent: string;
  body: Record<string, unknown>;
  /** Epoch ms when the whole body had arrived. */
  at: number;
  /** What the receiver answered; undefined while it holds the request open (or never answered). */
  status?: number;
}

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly open = new Set<ServerResponse>();
  private readonly failedOnce = new Set<string>();
  private readonly held = new Map<ReceivedRequest, ServerResponse>();

  private constructor(private readonly server: Server, readonly base: string) {}

  static async start(): Promise<WebhookReceiver> {
    const handlers: { receiver?: WebhookReceiver } = {};
    const server = createServer((req, res) => handlers.receiver!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    handlers.receiver = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return handlers.receiver;
  }

  /** How requests to /<sink>/... are answered (default 200). */
  answer(sink: string, behaviour: Behaviour): void {
    this.behaviours.set(sink, behaviour);
  }

  /** Requests of one sink that the receiver accepted (2xx), in arrival order. */
  accepted(sink: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.sink === sink && r.status !== undefined && r.status >= 200 && r.status < 300);
  }

  /** Requests of one sink held open right now. */
  hanging(sink: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.sink === sink && r.status === undefined);
  }

  /**
   * Answers every held request of `sink` with `status`, and records that answer, whether or not its
   * sender is still there to read it (a SIGKILLed sender's connection is gone by then).
   */
  release(sink: string, status: number): ReceivedRequest[] {
    const released: ReceivedRequest[] = [];
    for (const [request, res] of this.held) {
      if (request.sink !== sink) continue;
      this.held.delete(request);
      request.status = status;
      if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'receiver says no');
      released.push(request);
    }
    return released;
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { unparsable: text };
      }
      const request: ReceivedRequest = { sink: path.split('/')[1] ?? '', path, userAgent: req.headers['user-agent'] ?? '', body, at: Date.now() };
      this.requests.push(request);
      const behaviour = this.behaviours.get(request.sink) ?? 200;
      let status: number | 'hang' | 'hold';
      if (behaviour === 'fail-first') {
        const id = JSON.stringify(body.id ?? body);
        status = this.failedOnce.has(id) ? 200 : 500;
        this.failedOnce.add(id);
      } else {
        status = typeof behaviour === 'function' ? behaviour(request) : behaviour;
      }
      if (status === 'hold') {
        this.held.set(request, res);
        return;
      }
      if (status === 'hang') {
        this.open.add(res);
        res.on('close', () => this.open.delete(res));
        return;
      }
      request.status = status;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'receiver says no');
    });
  }
}
