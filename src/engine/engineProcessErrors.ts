// Errors of the engine process, its client and model downloads. Every class says when it is thrown.
// They cross the process boundary by name (see protocol.ts), so the client can rebuild them.
import {KvDistillError} from "../common/errors";

/** The engine process died (crash, out of memory, killed) while a request was in flight. */
export class EngineCrashedError extends KvDistillError {
    public constructor(message: string, public readonly enginePid: number | undefined, public readonly logPath: string | undefined, options?: {cause?: unknown}) {
        super(message, options);
    }
}

/** The engine process stopped in an orderly way (idle exit, shutdown, replaced) with requests pending. */
export class EngineStoppedError extends KvDistillError {}

/** The engine process could not be started or did not answer in time. */
export class EngineStartError extends KvDistillError {
    public constructor(message: string, public readonly logPath: string | undefined, options?: {cause?: unknown}) {
        super(message, options);
    }
}

/** A message broke the protocol: bad JSON, unknown type, invalid parameters, version mismatch. */
export class EngineProtocolError extends KvDistillError {}

/** The engine is shutting down and takes no new work; the client retries on a fresh engine. */
export class EngineDrainingError extends KvDistillError {}

/** The engine process has no backend to run model work (the Engine module is not wired in). */
export class EngineBackendUnavailableError extends KvDistillError {}

/**
 * A request was cancelled through its AbortSignal (or its client went away). Same name, signature
 * and message as the Engine's own OperationCancelledError (src/engine/engineErrors.ts on the engine
 * branch): when both are merged, one class remains and this file imports it.
 */
export class OperationCancelledError extends KvDistillError {
    public constructor(public readonly operation: string, options?: {cause?: unknown}) {
        super(`${operation} was cancelled`, options);
    }
}

/** The client was used after dispose(). */
export class EngineClientDisposedError extends KvDistillError {}

/** The engine's socket folder exists but is not private to this user (wrong owner, not a folder). */
export class EngineSocketDirectoryError extends KvDistillError {
    public constructor(message: string, public readonly file: string, options?: {cause?: unknown}) {
        super(message, options);
    }
}

/**
 * An error the engine threw whose class the client does not know; `remoteName` is the class name on
 * the engine side, `file` the offending file if the engine named one.
 */
export class EngineOperationError extends KvDistillError {
    public constructor(message: string, public readonly remoteName: string, public readonly file: string | undefined, options?: {cause?: unknown}) {
        super(message, options);
    }
}

/** A model download needs the user's explicit consent first; `sizeBytes` is known when the server said. */
export class DownloadConsentRequiredError extends KvDistillError {
    public constructor(public readonly uri: string, public readonly sizeBytes: number | undefined, public readonly destinationDirectory: string) {
        super(`Downloading ${uri}${sizeBytes === undefined ? "" : ` (${formatBytes(sizeBytes)})`} into ${destinationDirectory} needs your consent`);
    }
}

/** A model URI is not one the downloader accepts (only "hf:" URIs are). */
export class ModelUriError extends KvDistillError {}

/** Fetching a model failed (network, server error, disk). The partial file is kept for a resume. */
export class ModelDownloadError extends KvDistillError {
    public constructor(message: string, public readonly uri: string, options?: {cause?: unknown}) {
        super(message, options);
    }
}

/** A downloaded model failed its check (not a valid GGUF, wrong size or checksum) and was deleted. */
export class ModelDownloadIntegrityError extends KvDistillError {
    public constructor(message: string, public readonly uri: string, public readonly file: string, options?: {cause?: unknown}) {
        super(message, options);
    }
}

export function formatBytes(bytes: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
