import { describe, expect, it } from 'vitest'
import { sanitize } from '../../lib/ui.ts'

// Container logs printed on rollback come from the failed release: they must not drive the terminal.
describe('text from outside is made safe for a terminal', () => {
  it.each([
    ['colors', 'a\x1b[31mred\x1b[0m b', 'ared b'],
    ['cursor moves and screen clears', 'x\x1b[2J\x1b[H\x1b[1A', 'x'],
    ['a window title', 'x\x1b]0;pwned\x07y', 'xy'],
    ['a hyperlink', '\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\', 'click'],
    ['bells, backspaces and carriage returns', 'ok\x07\x08\r', 'ok'],
    ['the 8-bit CSI', 'a\x9b31mb', 'a31mb'],
    ['newlines and tabs stay', 'line 1\n\tline 2', 'line 1\n\tline 2'],
  ])('%s', (_, input, want) => expect(sanitize(input)).toBe(want))
})
