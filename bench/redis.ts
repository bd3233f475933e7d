// Just enough of RESP to read the example stack's counters and queue length over
// 127.0.0.1, without spawning redis-cli (a process per poll would show up in the CPU figures).
import { connect, type Socket } from 'node:net'

export type Reply = string | number | null | Reply[]

/** Parses one reply from buf at pos; undefined when the buffer does not hold all of it yet. */
function parse(buf: Buffer, pos: number): { value: Reply; end: number } | undefined {
  const eol = buf.indexOf('\r\n', pos)
  if (eol < 0) return undefined
  const kind = String.fromCharCode(buf[pos]!)
  const head = buf.toString('utf8', pos + 1, eol)
  switch (kind) {
    case '+':
      return { value: head, end: eol + 2 }
    case '-':
      throw new Error(`redis: ${head}`)
    case ':':
      return { value: Number(head), end: eol + 2 }
    case '$': {
      const n = Number(head)
      if (n < 0) return { value: null, end: eol + 2 }
      if (buf.length < eol + 2 + n + 2) return undefined
      return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 2 + n + 2 }
    }
    case '*': {
      const n = Number(head)
      if (n < 0) return { value: null, end: eol + 2 }
      const items: Reply[] = []
      let p = eol + 2
      for (let i = 0; i < n; i++) {
        const r = parse(buf, p)
        if (!r) return undefined
        items.push(r.value)
        p = r.end
      }
      return { value: items, end: p }
    }
    default:
      throw new Error(`redis: unexpected reply ${JSON.stringify(buf.toString('utf8', pos, eol))}`)
  }
}

export class Redis {
  private buf = Buffer.alloc(0)
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = []

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d])
      try {
        for (let r = parse(this.buf, 0); r && this.waiting.length; r = parse(this.buf, 0)) {
          this.buf = this.buf.subarray(r.end)
          this.waiting.shift()!.resolve(r.value)
        }
      } catch (e) {
        this.waiting.shift()?.reject(e as Error)
      }
    })
    const fail = (e: Error) => {
      for (const w of this.waiting.splice(0)) w.reject(e)
    }
    sock.on('error', fail)
    sock.on('close', () => fail(new Error('redis: connection closed')))
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = 5000): Promise<Redis> {
    return new Promise((resolve, reject) => {
      const sock = connect({ port, host })
      const timer = setTimeout(() => sock.destroy(new Error(`redis: no connection to ${host}:${port} within ${timeoutMs}ms`)), timeoutMs)
      sock.once('connect', () => {
        clearTimeout(timer)
        resolve(new Redis(sock))
      })
      sock.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
    })
  }

  cmd(...args: (string | number)[]): Promise<Reply> {
    const parts = args.map(String)
    const wire = `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      this.sock.write(wire)
    })
  }

  async int(...args: (string | number)[]): Promise<number> {
    return Number((await this.cmd(...args)) ?? 0)
  }

  close() {
    this.sock.destroy()
  }
}

/** The example stack's counters (example/app/tasks.py) and Celery's default queue. */
export interface Counters {
  enqueued: number
  executed: number
  ticks: number
  queued: number
  /** Messages a worker reserved but has not acknowledged (kombu's "unacked" hash). */
  unacked: number
}

export async function readCounters(r: Redis): Promise<Counters> {
  const [enqueued, executed, ticks] = ((await r.cmd('MGET', 'calmswap:enqueued', 'calmswap:executed', 'calmswap:ticks')) as (string | null)[]).map((v) => Number(v ?? 0))
  return { enqueued: enqueued!, executed: executed!, ticks: ticks!, queued: await r.int('LLEN', 'celery'), unacked: await r.int('HLEN', 'unacked') }
}
