// Fills the checkout's path into calmswap-recover.service (stdin → stdout). The path comes
// through the environment (CALMSWAP_CHECKOUT), never through sed or a shell's quotes, so any
// character in it is safe, and systemd's own escapes are applied: `%` starts a specifier
// everywhere, and ExecStart's quoted argument also takes `\`, `"` and `$` as special.
import { readFileSync } from 'node:fs'

const dir = process.env.CALMSWAP_CHECKOUT ?? ''
if (!dir.startsWith('/') || /[\0-\x1f\x7f]/.test(dir)) {
  process.stderr.write(`recover-unit: CALMSWAP_CHECKOUT must be an absolute path without control characters, not ${JSON.stringify(dir)}\n`)
  process.exit(2)
}
const plain = dir.replaceAll('%', '%%')
const quoted = plain.replace(/[\\"]/g, '\\$&').replaceAll('$', '$$$$')
const unit = readFileSync(0, 'utf8')
  .split('\n')
  .map((line) => line.replaceAll('__CALMSWAP_DIR__', () => (line.startsWith('ExecStart=') ? quoted : plain)))
  .join('\n')
process.stdout.write(unit)
