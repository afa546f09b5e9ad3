// Preloaded (`node --import`) into an example to play a starved process on a loaded machine: the
// event loop is blocked for 300 ms at a time, 200 ms after the last block ended, for as long as the
// process runs (a 250 ms deadline can pass inside any block). The timer never holds the process.
const STALL = 300; // ms blocked
const GAP = 200; // ms free between two blocks
function stall() {
  const end = performance.now() + STALL;
  while (performance.now() < end) {
    // busy: the event loop can't turn
  }
  setTimeout(stall, GAP).unref();
}
setTimeout(stall, GAP).unref();
