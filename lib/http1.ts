// HTTP/1.1 over node:net, for calmswap's two clients: the Engine API on its unix socket and the
// health check's GET. Not node:http: loading it (agent, client, server, the llhttp binding)
// costs each `status` and `health` run about 0.6 MB of RSS (docs/benchmark.md, Lean), for small
// requests whose answers need only the framing below: content-length, chunked, or until close
// (the daemon's exec attach). No upgrades, no pipelining: one request per connection at a time.
import { connect, type Socket } from 'node:net'

export interface HttpHead {
  readonly status: number
  /** Lowercased names; a repeated header joined with ", ", set-cookie a list (as node:http). */
  readonly headers: Record<string, string | string[]>
}

/** A malformed answer or one cut short; `code` as node:http names the same failures. */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

const HEAD_LIMIT = 64 * 1024
const LINE_LIMIT = 8 * 1024
const CRLF = Buffer.from('\r\n')
const HEAD_END = Buffer.from('\r\n\r\n')

export interface ParserSink {
  head(h: HttpHead): void
  data(chunk: Buffer): void
  /** The whole answer is read; `reusable`: the connection may carry another request. */
  end(reusable: boolean): void
}

type State = 'head' | 'length' | 'close' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailer' | 'done'

/** Parses one response from the bytes as they come. Throws HttpError on a malformed answer. */
export class ResponseParser {
  private buf: Buffer = Buffer.alloc(0)
  private state: State = 'head'
  private left = 0
  private reusable = false
  private seen = false
  private stopped = false

  constructor(
    private readonly sink: ParserSink,
    /** A HEAD request: its answer has no body whatever its headers say. */
    private readonly noBody = false,
  ) {}

  get done(): boolean {
    return this.state === 'done'
  }

  /** No more callbacks: the reader has what it wants. */
  stop(): void {
    this.stopped = true
  }

  push(chunk: Buffer): void {
    if (chunk.length) this.seen = true
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    while (!this.stopped && this.state !== 'done' && this.step()) {}
  }

  /** The connection ended: the end of a body read until close, else an answer cut short. */
  finish(): void {
    if (this.stopped || this.state === 'done') return
    if (this.state === 'close') {
      this.state = 'done'
      this.sink.end(false)
      return
    }
    if (!this.seen) throw new HttpError('socket hang up', 'ECONNRESET')
    throw new HttpError(`the answer was cut short (${this.state === 'head' ? 'in its head' : 'in its body'})`, 'ECONNRESET')
  }

  /** One step on the buffered bytes; false when it needs more. */
  private step(): boolean {
    switch (this.state) {
      case 'head':
        return this.head()
      case 'length':
      case 'chunk-data': {
        if (!this.buf.length) return false
        const n = Math.min(this.left, this.buf.length)
        const part = this.buf.subarray(0, n)
        this.buf = this.buf.subarray(n)
        this.left -= n
        if (this.left === 0) this.state = this.state === 'length' ? 'done' : 'chunk-crlf'
        this.sink.data(part)
        if (this.state === 'done') this.sink.end(this.reusable && !this.buf.length)
        return true
      }
      case 'close': {
        if (!this.buf.length) return false
        const part = this.buf
        this.buf = Buffer.alloc(0)
        this.sink.data(part)
        return false
      }
      case 'chunk-size': {
        const line = this.line()
        if (line === null) return false
        const m = /^([0-9a-fA-F]{1,8})[ \t]*(;.*)?$/.exec(line)
        if (!m) throw new HttpError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`, 'HPE_INVALID_CHUNK_SIZE')
        this.left = Number.parseInt(m[1]!, 16)
        this.state = this.left === 0 ? 'trailer' : 'chunk-data'
        return true
      }
      case 'chunk-crlf': {
        if (this.buf.length < 2) return false
        if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new HttpError('no CRLF after a chunk', 'HPE_STRICT')
        this.buf = this.buf.subarray(2)
        this.state = 'chunk-size'
        return true
      }
      case 'trailer': {
        const line = this.line()
        if (line === null) return false
        if (line === '') {
          this.state = 'done'
          this.sink.end(this.reusable && !this.buf.length)
        }
        return true
      }
      default:
        return false
    }
  }

  /** The next CRLF-ended line, or null until it is all here. */
  private line(): string | null {
    const at = this.buf.indexOf(CRLF)
    if (at < 0) {
      if (this.buf.length > LINE_LIMIT) throw new HttpError('line too long', 'HPE_HEADER_OVERFLOW')
      return null
    }
    const line = this.buf.toString('latin1', 0, at)
    this.buf = this.buf.subarray(at + 2)
    return line
  }

  private head(): boolean {
    const at = this.buf.indexOf(HEAD_END)
    if (at < 0) {
      if (this.buf.length > HEAD_LIMIT) throw new HttpError('header too long', 'HPE_HEADER_OVERFLOW')
      return false
    }
    if (at > HEAD_LIMIT) throw new HttpError('header too long', 'HPE_HEADER_OVERFLOW')
    const lines = this.buf.toString('latin1', 0, at).split('\r\n')
    this.buf = this.buf.subarray(at + 4)
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!)
    if (!m) throw new HttpError(`not an HTTP/1.x answer: ${JSON.stringify(lines[0]!.slice(0, 40))}`, 'HPE_INVALID_CONSTANT')
    const status = Number(m[2])
    const headers: Record<string, string | string[]> = {}
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(':')
      if (colon <= 0 || /[\s]/.test(l.slice(0, colon))) throw new HttpError(`bad header line ${JSON.stringify(l.slice(0, 40))}`, 'HPE_INVALID_HEADER_TOKEN')
      const name = l.slice(0, colon).toLowerCase()
      const value = l.slice(colon + 1).trim()
      const had = headers[name]
      if (name === 'set-cookie') headers[name] = [...((had as string[] | undefined) ?? []), value]
      else headers[name] = had === undefined ? value : `${had}, ${value}`
    }
    // 100 Continue and the like come before the real answer.
    if (status >= 100 && status < 200 && status !== 101) return true
    const connection = String(headers.connection ?? '').toLowerCase()
    this.reusable = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection)
    const te = String(headers['transfer-encoding'] ?? '').toLowerCase()
    const cl = headers['content-length'] as string | undefined
    if (this.noBody || status === 204 || status === 304 || status === 101) {
      this.reusable &&= status !== 101
      this.state = 'done'
    } else if (te) {
      if (!/(^|,)\s*chunked\s*$/.test(te)) throw new HttpError(`transfer-encoding ${te} is not chunked`, 'HPE_INVALID_TRANSFER_ENCODING')
      this.state = 'chunk-size'
    } else if (cl !== undefined) {
      const values = new Set(cl.split(',').map((v) => v.trim()))
      const [only] = values
      if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) throw new HttpError(`bad content-length ${JSON.stringify(cl)}`, 'HPE_INVALID_CONTENT_LENGTH')
      this.left = Number(only)
      this.state = this.left === 0 ? 'done' : 'length'
    } else {
      this.reusable = false
      this.state = 'close'
    }
    this.sink.head({ status, headers })
    if (this.state === 'done' && !this.stopped) this.sink.end(this.reusable && !this.buf.length)
    return true
  }
}

/** Idle keep-alive connections by where they go: the Engine API's calls reuse them. */
export class SocketPool {
  private readonly idle = new Map<string, Set<Socket>>()
  private readonly forget = new Map<Socket, () => void>()

  take(key: string): Socket | undefined {
    for (const s of this.idle.get(key) ?? []) {
      this.forget.get(s)!()
      if (!s.destroyed && s.readable && s.writable) {
        s.ref()
        return s
      }
      s.destroy()
    }
    return undefined
  }

  put(key: string, s: Socket): void {
    const set = this.idle.get(key) ?? new Set<Socket>()
    this.idle.set(key, set)
    // A parked connection that closes, errs or speaks unasked is of no more use.
    const gone = () => {
      this.forget.get(s)?.()
      s.destroy()
    }
    s.on('error', gone).on('end', gone).on('close', gone).on('data', gone)
    this.forget.set(s, () => {
      s.off('error', gone).off('end', gone).off('close', gone).off('data', gone)
      set.delete(s)
      this.forget.delete(s)
    })
    set.add(s)
    s.unref()
  }

  close(): void {
    for (const set of this.idle.values()) for (const s of set) s.destroy()
    this.idle.clear()
  }
}

export interface HttpRequest {
  /** A unix socket, or else host and port (TCP). */
  readonly socketPath?: string
  readonly host?: string
  readonly port?: number
  readonly method: string
  readonly path: string
  /** Sent as given (a host header for TCP is added when missing). */
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
  /** Ends the exchange (its connection) at once, rejecting with the signal's reason. */
  readonly signal?: AbortSignal
  /** Where a connection waits for the next request when the answer allows it. */
  readonly pool?: SocketPool
}

export interface BodyReader {
  /** After the head; false drops the body unread, and its connection. */
  head?(h: HttpHead): boolean
  /** Each body chunk; false: read enough, the rest is dropped with the connection. Without it the body is dropped. */
  data?(chunk: Buffer): boolean
}

const UNSAFE = /[\r\n\0]/

/**
 * One request and its answer: resolves with the head once the body is read (or dropped by the
 * reader); rejects on a connect or socket error, a malformed or cut-short answer, or the abort.
 */
export function exchange(req: HttpRequest, reader: BodyReader = {}): Promise<HttpHead> {
  return new Promise((resolve, reject) => {
    const { signal, method, path } = req
    if (signal?.aborted) return reject(signal.reason)
    if (!/^[A-Z]+$/.test(method) || /[\s\0]/.test(path) || !path.startsWith('/')) return reject(new TypeError(`bad request line: ${method} ${JSON.stringify(path)}`))
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v
    if (!req.socketPath && headers.host === undefined) headers.host = `${req.host?.includes(':') ? `[${req.host}]` : req.host}${req.port === 80 ? '' : `:${req.port}`}`
    if (req.body !== undefined || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(method)) headers['content-length'] = String(Buffer.byteLength(req.body ?? ''))
    for (const [k, v] of Object.entries(headers)) if (UNSAFE.test(k) || UNSAFE.test(v) || k.includes(':')) return reject(new TypeError(`bad header ${JSON.stringify(k)}`))
    const wire = `${method} ${path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n${req.body ?? ''}`

    const key = req.socketPath ?? `${req.host}:${req.port}`
    const socket = req.pool?.take(key) ?? (req.socketPath ? connect(req.socketPath) : connect(req.port ?? 80, req.host).setNoDelay(true))
    let head: HttpHead | undefined
    let settled = false
    const finish = (err: unknown, keep = false) => {
      if (settled) return
      settled = true
      parser.stop()
      socket.off('data', onData).off('end', onEnd).off('error', finish).off('close', onClose)
      signal?.removeEventListener('abort', onAbort)
      if (keep && req.pool) req.pool.put(key, socket)
      else socket.destroy()
      if (err) reject(err)
      else resolve(head!)
    }
    const parser = new ResponseParser(
      {
        head: (h) => {
          head = h
          if (reader.head?.(h) === false || (!reader.data && !parser.done)) finish(null)
        },
        data: (c) => {
          if (reader.data?.(c) === false) finish(null)
        },
        end: (reusable) => finish(null, reusable),
      },
      method === 'HEAD',
    )
    const onData = (c: Buffer) => {
      try {
        parser.push(c)
      } catch (e) {
        finish(e)
      }
    }
    const onEnd = () => {
      try {
        parser.finish()
      } catch (e) {
        finish(e)
      }
    }
    const onClose = () => finish(new HttpError('socket hang up', 'ECONNRESET'))
    const onAbort = () => finish(signal!.reason)
    socket.on('data', onData).on('end', onEnd).on('error', finish).on('close', onClose)
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.write(wire)
  })
}
