/** Base of every error the project throws on purpose; `cause` keeps the underlying failure. */
export class KvDistillError extends Error {
    public constructor(message: string, options?: {cause?: unknown}) {
        super(message, options);
        this.name = new.target.name;
    }
}

/** Thrown when a command-line invocation is malformed (unknown command, missing argument). */
export class UsageError extends KvDistillError {}
