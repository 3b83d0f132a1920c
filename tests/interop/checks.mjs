// What every interop script shares: named checks that print one line each, and the closing
// "N passed, M failed" that `cargo xtask interop` reads.

let passed = 0;
let failed = 0;

// Runs `body`; prints `ok` (with the note it returns) or `FAIL` and why, prefixed with `label`.
export async function check(label, name, body) {
  try {
    const note = await body();
    passed += 1;
    console.log(`ok    ${label} ${name}${note ? ` (${note})` : ''}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL  ${label} ${name}: ${error?.message ?? error}${error?.cause ? ` ${JSON.stringify(error.cause)}` : ''}`);
  }
}

export function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// Prints the counts and ends the process: status 1 when anything failed.
export function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
