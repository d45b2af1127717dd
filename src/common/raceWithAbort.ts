/**
 * Settles with `promise`, or rejects with `abortError()` as soon as `signal` aborts (for work that
 * cannot itself be interrupted: the caller is answered at once and the work settles on its own).
 * A rejection that is not an Error is wrapped so callers always get one.
 */
export function raceWithAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, abortError: () => Error): Promise<T> {
    if (signal === undefined)
        return promise;
    return new Promise<T>((resolve, reject) => {
        const onAbort = (): void => reject(abortError());
        if (signal.aborted) {
            onAbort();
            return;
        }
        signal.addEventListener("abort", onAbort, {once: true});
        promise.then(
            (value) => {
                signal.removeEventListener("abort", onAbort);
                resolve(value);
            },
            (error: unknown) => {
                signal.removeEventListener("abort", onAbort);
                reject(error instanceof Error ? error : new Error(String(error)));
            }
        );
    });
}
