// A real forward proxy on loopback, as the egress proxy of a corporate network or a hub VNet (a
// Squid, Azure Firewall's explicit proxy) is to the controller: it tunnels CONNECT requests and
// forwards absolute-URI HTTP requests, logs every request it gets (what, to where, its answer), and
// can be told to refuse them all, with 407 (credentials wanted) or 403 (policy), as such a proxy does.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ProxyLogEntry {
  /** CONNECT, or the forwarded request's method. */
  method: string;
  /** host:port of a CONNECT; the absolute URI of a forwarded request. */
  target: string;
  /** What the proxy answered (200 for an established tunnel). */
  status: number;
}

/** What a refusing proxy answers. */
export type ProxyRefusal = 407 | 403;

const REFUSALS: Record<ProxyRefusal, string> = {
  407: 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="egress"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  403: 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
};

export class ForwardProxy {
  readonly log: ProxyLogEntry[] = [];
  private refusal: ProxyRefusal | undefined;
  private readonly sockets = new Set<Duplex>();

  private constructor(
    private readonly server: Server,
    /** http://127.0.0.1:<port> */
    readonly url: string,
  ) {}

  static async start(): Promise<ForwardProxy> {
    const handlers: { proxy?: ForwardProxy } = {};
    const server = createServer((req, res) => handlers.proxy!.forward(req, res));
    server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => handlers.proxy!.tunnel(req, socket, head));
    server.on('connection', (socket: Socket) => handlers.proxy!.track(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    handlers.proxy = new ForwardProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return handlers.proxy;
  }

  /** From now on every request is refused with this status; undefined: served again. */
  refuse(refusal: ProxyRefusal | undefined): void {
    this.refusal = refusal;
  }

  /** Closes every open connection and tunnel (a client's next request needs a new CONNECT). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private tunnel(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const target = req.url ?? '';
    client.on('error', () => undefined);
    if (this.refusal !== undefined) {
      this.log.push({ method: 'CONNECT', target, status: this.refusal });
      client.end(REFUSALS[this.refusal]);
      return;
    }
    const [host, port] = splitHostPort(target);
    const upstream = connect(port, host);
    this.track(upstream);
    upstream.on('connect', () => {
      this.log.push({ method: 'CONNECT', target, status: 200 });
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => {
      this.log.push({ method: 'CONNECT', target, status: 502 });
      client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    client.on('close', () => upstream.destroy());
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '';
    if (this.refusal !== undefined || !URL.canParse(target)) {
      const status = this.refusal ?? 400;
      this.log.push({ method: req.method ?? '', target, status });
      res.writeHead(status, status === 407 ? { 'proxy-authenticate': 'Basic realm="egress"' } : {}).end();
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !name.startsWith('proxy-')));
    const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
      this.log.push({ method: req.method ?? '', target, status: answer.statusCode ?? 0 });
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      this.log.push({ method: req.method ?? '', target, status: 502 });
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  }
}

function splitHostPort(target: string): [string, number] {
  const at = target.lastIndexOf(':');
  return [target.slice(0, at).replace(/^\[(.*)\]$/, '$1'), Number(target.slice(at + 1))];
}
