// Preloaded into calmswap's node process by the bench (node --require): at exit, writes the
// CPU time and peak RSS of that process alone (its docker children excluded), so the
// orchestrator's cost splits into node itself and the commands it runs. CommonJS, so that
// preloading it into a CommonJS script (dist/status.cjs) does not start the ES module loader
// and add its megabytes to the figure.
const { writeFileSync } = require('node:fs')

const file = process.env.BENCH_SELF_CPU_FILE
if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage()
    writeFileSync(file, JSON.stringify({ userS: u.userCPUTime / 1e6, sysS: u.systemCPUTime / 1e6, maxRssKb: u.maxRSS }))
  })
}
