// lib/http1.ts, the HTTP/1.1 client under the Engine API and the health check: the parser on
// bytes cut at every boundary, then whole exchanges against real servers (TCP and a unix socket).
import { mkdtempSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { exchange, type HttpHead, ResponseParser, SocketPool } from '../../lib/http1.ts'

interface Parsed {
  head?: HttpHead
  body: string
  ended: boolean
  reusable?: boolean
}

/** Feeds `wire` to a parser in pieces of `step` bytes; `close`: the connection then ends. */
function parse(wire: string, step: number, close = false, noBody = false): Parsed {
  const out: Parsed = { body: '', ended: false }
  const chunks: Buffer[] = []
  const p = new ResponseParser(
    {
      head: (h) => (out.head = h),
      data: (c) => chunks.push(Buffer.from(c)),
      end: (reusable) => {
        out.ended = true
        out.reusable = reusable
      },
    },
    noBody,
  )
  const bytes = Buffer.from(wire, 'latin1')
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.subarray(i, i + step))
  if (close) p.finish()
  out.body = Buffer.concat(chunks).toString('latin1')
  return out
}

const STEPS = [1, 2, 3, 7, 1000]

describe('the response parser, the bytes cut anywhere', () => {
  for (const step of STEPS) {
    it(`content-length (pieces of ${step})`, () => {
      const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Color: blue\r\nX-Color: green\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello world', step)
      expect(r).toEqual({
        head: { status: 200, headers: { 'content-length': '11', 'x-color': 'blue, green', 'set-cookie': ['a=1', 'b=2'] } },
        body: 'hello world',
        ended: true,
        reusable: true,
      })
    })

    it(`chunked, with an extension and a trailer (pieces of ${step})`, () => {
      const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n', step)
      expect(r).toEqual({ head: { status: 200, headers: { 'transfer-encoding': 'chunked' } }, body: 'hello 0123456789', ended: true, reusable: true })
    })

    it(`a body until close, as the daemon's exec attach sends it (pieces of ${step})`, () => {
      const frames = '\x01\0\0\0\0\0\0\x03hi\n\x02\0\0\0\0\0\0\x04oops'
      const r = parse(`HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n${frames}`, step, true)
      expect([r.body, r.ended, r.reusable]).toEqual([frames, true, false])
    })
  }

  it('no body for 204, 304 and a HEAD request; 100 Continue is skipped', () => {
    expect(parse('HTTP/1.1 204 No Content\r\n\r\n', 3)).toMatchObject({ head: { status: 204 }, body: '', ended: true, reusable: true })
    expect(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n', 3)).toMatchObject({ ended: true, body: '' })
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n', 3, false, true)).toMatchObject({ ended: true, body: '' })
    expect(parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok', 4)).toMatchObject({ head: { status: 201 }, body: 'ok', ended: true })
  })

  it('a connection is reused only when the answer allows it', () => {
    expect(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 5).reusable).toBe(false)
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', 5).reusable).toBe(false)
    expect(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', 5).reusable).toBe(true)
  })

  it('an answer cut short is an error, not a short body', () => {
    expect(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello', 2, true)).toThrow(/cut short \(in its body\)/)
    expect(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 2, true)).toThrow(/cut short/)
    expect(() => parse('HTTP/1.1 200 OK\r\nContent-Le', 2, true)).toThrow(/cut short \(in its head\)/)
    expect(() => parse('', 1, true)).toThrow(/socket hang up/)
  })

  it('a malformed answer is an error', () => {
    expect(() => parse('SSH-2.0-OpenSSH\r\n\r\n', 100)).toThrow(/not an HTTP\/1.x answer/)
    expect(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 100)).toThrow(/bad chunk size/)
    expect(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY', 100)).toThrow(/no CRLF after a chunk/)
    expect(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n', 100)).toThrow(/bad content-length/)
    expect(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', 100)).toThrow(/not chunked/)
    expect(() => parse(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`, 4096)).toThrow(/header too long/)
  })
})

// ---------------------------------------------------------------- whole exchanges
let servers: Server[] = []
afterEach(() => {
  for (const s of servers) s.close()
  servers = []
})

/** A raw server: `answer` writes whatever it likes on each connection, after the request's head. */
async function serve(answer: (s: Socket, request: string, n: number) => void, socketPath?: string): Promise<{ port: number; connections: () => number; requests: string[] }> {
  let n = 0
  const requests: string[] = []
  const server = createServer((s) => {
    n++
    let buf = ''
    s.on('error', () => {})
    s.on('data', (d) => {
      buf += d.toString('latin1')
      while (buf.includes('\r\n\r\n')) {
        const end = buf.indexOf('\r\n\r\n') + 4
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0)
        if (buf.length < end + len) return
        requests.push(buf.slice(0, end + len))
        buf = buf.slice(end + len)
        answer(s, requests.at(-1)!, requests.length)
      }
    })
  })
  servers.push(server)
  await new Promise<void>((r) => (socketPath ? server.listen(socketPath, r) : server.listen(0, '127.0.0.1', r)))
  return { port: socketPath ? 0 : (server.address() as { port: number }).port, connections: () => n, requests }
}

const collect = () => {
  const chunks: Buffer[] = []
  return { chunks, reader: { data: (c: Buffer) => (chunks.push(Buffer.from(c)), true) }, text: () => Buffer.concat(chunks).toString() }
}

describe('an exchange over a real connection', () => {
  it('sends the request line, headers and body, and reads a chunked answer', async () => {
    const srv = await serve((s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n'))
    const c = collect()
    const head = await exchange({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/a?b=1', headers: { 'Content-Type': 'application/json' }, body: '{"é":1}' }, c.reader)
    expect([head.status, c.text()]).toEqual([200, 'abc'])
    expect(Buffer.from(srv.requests[0]!, 'latin1').toString()).toBe(
      `POST /a?b=1 HTTP/1.1\r\ncontent-type: application/json\r\nhost: 127.0.0.1:${srv.port}\r\ncontent-length: 8\r\n\r\n{"é":1}`,
    )
  })

  it('keeps a unix socket connection for the next call through a pool, and drops it on close', async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'calmswap-http1-')), 'api.sock')
    const srv = await serve((s, _r, n) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${String(n).padStart(2, '0')}`), sock)
    const pool = new SocketPool()
    const bodies: string[] = []
    for (let i = 0; i < 3; i++) {
      const c = collect()
      await exchange({ socketPath: sock, method: 'GET', path: '/version', headers: { host: 'docker' }, pool }, c.reader)
      bodies.push(c.text())
    }
    expect([bodies, srv.connections()]).toEqual([['01', '02', '03'], 1])
    pool.close()
    await exchange({ socketPath: sock, method: 'GET', path: '/version', headers: { host: 'docker' }, pool }, collect().reader)
    expect(srv.connections()).toBe(2)
  })

  it('rejects an answer cut short', async () => {
    const srv = await serve((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this'))
    await expect(exchange({ host: '127.0.0.1', port: srv.port, method: 'GET', path: '/', headers: {} }, collect().reader)).rejects.toMatchObject({
      code: 'ECONNRESET',
      message: /cut short/,
    })
  })

  it('a deadline ends a server that never answers', async () => {
    const srv = await serve(() => {})
    const t0 = performance.now()
    await expect(exchange({ host: '127.0.0.1', port: srv.port, method: 'GET', path: '/', headers: {}, signal: AbortSignal.timeout(200) }, collect().reader)).rejects.toMatchObject({
      name: 'TimeoutError',
    })
    expect(performance.now() - t0).toBeLessThan(2000)
  })

  it('an abort ends a body in flight, and its connection', async () => {
    let server: Socket | undefined
    const srv = await serve((s) => {
      server = s
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nevt1\r\n')
    })
    const ac = new AbortController()
    const c = collect()
    const done = exchange(
      { host: '127.0.0.1', port: srv.port, method: 'GET', path: '/events', headers: {}, signal: ac.signal },
      {
        data: (chunk) => {
          c.chunks.push(Buffer.from(chunk))
          ac.abort(new Error('stop'))
          return true
        },
      },
    )
    await expect(done).rejects.toThrow('stop')
    expect(c.text()).toBe('evt1')
    await new Promise<void>((r) => (server!.closed ? r() : server!.once('close', () => r())))
  })

  it('a reader that has enough drops the rest: the body cap', async () => {
    const srv = await serve((s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${8 << 20}\r\n\r\n`)
      const block = Buffer.alloc(64 << 10, 'x')
      const more = () => {
        while (!s.destroyed && s.write(block)) {}
        if (!s.destroyed) s.once('drain', more)
      }
      more()
    })
    let size = 0
    const head = await exchange(
      { host: '127.0.0.1', port: srv.port, method: 'GET', path: '/', headers: {} },
      {
        data: (c) => {
          size += c.length
          return size < 4096
        },
      },
    )
    expect(head.status).toBe(200)
    expect(size).toBeGreaterThanOrEqual(4096)
    expect(size).toBeLessThan(8 << 20)
  })

  it('a connect error keeps its code (the CLI words for a missing daemon come from it)', async () => {
    await expect(exchange({ socketPath: '/nonexistent/docker.sock', method: 'GET', path: '/', headers: {} })).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses a request line or header that would split the request', async () => {
    await expect(exchange({ host: '127.0.0.1', port: 9, method: 'GET', path: '/a b', headers: {} })).rejects.toThrow(TypeError)
    await expect(exchange({ host: '127.0.0.1', port: 9, method: 'GET', path: '/', headers: { x: 'a\r\nb: c' } })).rejects.toThrow(TypeError)
  })
})
