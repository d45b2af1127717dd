// Lets the event loop run (timers, I/O, the editor's messages) when the indexer has held the
// thread for a while: the default file system makes short synchronous calls, so long loops call
// this between files and folders.

const sliceMs = 10;
let sliceStartedMs = performance.now();

/** Resolves at once while the current slice lasts; after 10 ms, on the next turn of the event loop. */
export function yieldToEventLoop(): Promise<void> | undefined {
    const now = performance.now();
    if (now - sliceStartedMs < sliceMs)
        return undefined;
    return new Promise((resolve) => setImmediate(() => {
        sliceStartedMs = performance.now();
        resolve();
    }));
}
