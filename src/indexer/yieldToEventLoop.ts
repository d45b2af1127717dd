// Lets the event loop run (timers, I/O, the editor's messages) when the indexer has held the
// thread for a while: the default file system makes short synchronous calls, so long loops call
// this between files and folders.

const sliceMs = 10;
// Date.now(), not performance.now(): called once per file and folder, and Date.now() is a plain
// built-in where performance.now() is a call into Node (a few milliseconds over a 20k-file tree).
// Millisecond resolution is enough for a 10 ms slice; a clock set back ends the slice at once.
let sliceStartedMs = Date.now();

/** Resolves at once while the current slice lasts; after 10 ms, on the next turn of the event loop. */
export function yieldToEventLoop(): Promise<void> | undefined {
    const now = Date.now();
    if (now - sliceStartedMs < sliceMs && now >= sliceStartedMs)
        return undefined;
    return new Promise((resolve) => setImmediate(() => {
        sliceStartedMs = Date.now();
        resolve();
    }));
}
