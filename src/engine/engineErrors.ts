// The engine's errors. Each says when it is thrown; all extend KvDistillError so callers (the CLI,
// the engine server) can tell them from crashes.
import {KvDistillError} from "../common/errors";

/** The model path does not exist (or is not a file). */
export class ModelFileNotFoundError extends KvDistillError {
    public constructor(public readonly modelPath: string) {
        super(`model file not found: ${modelPath}`);
    }
}

/** llama.cpp could not load the model file (not GGUF, unsupported architecture, truncated, out of memory). */
export class ModelLoadError extends KvDistillError {
    public constructor(public readonly modelPath: string, cause: unknown) {
        super(`cannot load the model ${modelPath}: ${cause instanceof Error ? cause.message : String(cause)}`, {cause});
    }
}

/** A context of the needed size could not be allocated (usually not enough memory). */
export class ContextAllocationError extends KvDistillError {
    public constructor(public readonly contextSize: number, cause: unknown) {
        super(`cannot create a context of ${contextSize} tokens: ${cause instanceof Error ? cause.message : String(cause)} ` +
            "(try a smaller --segment-tokens or keep ratio)", {cause});
    }
}

/** More tokens were about to be evaluated than the context holds. The engine sizes contexts itself, so this is a bug or a too-long request. */
export class ContextOverflowError extends KvDistillError {
    public constructor(public readonly contextSize: number, public readonly neededTokens?: number) {
        super(neededTokens === undefined
            ? `the context of ${contextSize} tokens is full`
            : `${neededTokens} tokens do not fit the context of ${contextSize} tokens`);
    }
}

/** Even compressed, the workspace does not fit the largest context the engine may use. */
export class WorkspaceTooLargeError extends KvDistillError {
    public constructor(promptTokens: number, keptTokens: number, neededContext: number, maxContext: number) {
        super(`the workspace has ${promptTokens} tokens; distilling it needs a context of ${neededContext} tokens ` +
            `(${keptTokens} kept in the end) but at most ${maxContext} are available: lower the keep ratio or the segment size, or exclude files`);
    }
}

/** The operation was cancelled through its AbortSignal. */
export class OperationCancelledError extends KvDistillError {
    public constructor(public readonly operation: string, options?: {cause?: unknown}) {
        super(`${operation} was cancelled`, options);
    }
}

/** The scorer cannot run with the loaded llama.cpp build. */
export class UnsupportedScorerError extends KvDistillError {
    public constructor(public readonly scorer: string, reason: string) {
        super(`the "${scorer}" scorer is not available: ${reason}`);
    }
}

/** Distill or ask options are out of range (keep ratio, segment size, folders). */
export class InvalidEngineOptionsError extends KvDistillError {}

/** Another process holds the cache folder's write lock for longer than we were willing to wait. */
export class CacheLockedError extends KvDistillError {
    public constructor(public readonly cacheFolder: string, public readonly holder: string) {
        super(`the cache ${cacheFolder} is being written by ${holder}`);
    }
}

/** A method was called on a disposed Engine. */
export class EngineDisposedError extends KvDistillError {
    public constructor() {
        super("the engine is disposed");
    }
}

/** The scoring adapter file cannot be used: missing, not an adapter, made for another model, or refused by the build. */
export class ScoringAdapterError extends KvDistillError {
    public constructor(public readonly adapterPath: string, public readonly reason: string, options?: {cause?: unknown}) {
        super(`the scoring adapter ${adapterPath === "" ? "(none given)" : adapterPath} cannot be used: ${reason}`, options);
    }
}
