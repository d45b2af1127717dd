// Runs an action once events have settled: each trigger restarts the wait.

export type TimerApi = {
    setTimeout(callback: () => void, delayMs: number): unknown;
    clearTimeout(handle: unknown): void;
};

export const realTimers: TimerApi = {
    setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)
};

export class DebouncedAction {
    private handle: unknown;
    private pending = false;
    private disposed = false;

    public constructor(
        private readonly action: () => void,
        private readonly timers: TimerApi = realTimers
    ) {}

    public get isPending(): boolean {
        return this.pending;
    }

    public trigger(delayMs: number): void {
        if (this.disposed)
            return;
        this.cancel();
        this.pending = true;
        this.handle = this.timers.setTimeout(() => {
            this.pending = false;
            this.handle = undefined;
            this.action();
        }, Math.max(0, delayMs));
    }

    public cancel(): void {
        if (this.handle !== undefined)
            this.timers.clearTimeout(this.handle);
        this.handle = undefined;
        this.pending = false;
    }

    public dispose(): void {
        this.cancel();
        this.disposed = true;
    }
}
