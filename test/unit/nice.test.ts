import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const cli = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url))

/** The niceness of a process that calmswap's yieldCpu(want) started, calmswap itself started at `at`. */
function childNice(at: number, want: number): number {
  const code = `import { execFileSync } from 'node:child_process'; import { yieldCpu } from ${JSON.stringify(cli)}; yieldCpu(${want}); process.stdout.write(execFileSync('sh', ['-c', 'cut -d" " -f19 /proc/self/stat']))`
  return Number(execFileSync('nice', ['-n', String(at), process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' }).trim())
}

describe('CALMSWAP_NICE', () => {
  it('what calmswap starts runs at its niceness', () => expect(childNice(0, 10)).toBe(10))
  it('0 leaves it as started', () => expect(childNice(0, 0)).toBe(0))
  it('never lowered: started nicer, it stays so', () => expect(childNice(15, 10)).toBe(15))
})
