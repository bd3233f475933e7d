// The end-to-end harness's pipe between two processes (images saved on one daemon, loaded on
// another): checked here, where no Docker is needed, with two node processes.
import { describe, expect, it } from 'vitest'
import { pipeFiles } from '../e2e/stack.ts'

const node = (script: string) => ({ file: process.execPath, args: ['-e', script] })
const count = node("let n = 0; process.stdin.on('data', (d) => (n += d.length)).on('end', () => console.log(n))")

describe('pipeFiles', () => {
  it("hands every byte of the first process's output to the second", async () =>
    expect(await pipeFiles(node("process.stdout.write('x'.repeat(5e6))"), count, 20_000)).toMatchObject({ code: 0, stdout: '5000000\n' }))
  it('fails with the first when it fails, with its error', async () =>
    expect(await pipeFiles(node("console.error('no such image'); process.exit(3)"), count, 20_000)).toMatchObject({ code: 3, stderr: 'no such image\n' }))
  it('kills both at the deadline', async () =>
    expect(await pipeFiles(node('setTimeout(() => {}, 60_000)'), count, 300)).toMatchObject({ signal: 'SIGKILL', stderr: expect.stringMatching(/^killed after 300 ms/) }))
})
