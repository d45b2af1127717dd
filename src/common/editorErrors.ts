// Errors the editor side throws on purpose. Each one says when it is thrown.
import {KvDistillError} from "./errors";

/** No model is set (kvDistill.model.path is empty, or set only by an untrusted workspace). */
export class ModelNotConfiguredError extends KvDistillError {
    public constructor(public readonly ignoredUntrustedValue: boolean) {
        super(ignoredUntrustedValue
            ? "No model is set: the workspace's kvDistill.model.path is ignored because the workspace is not trusted"
            : "No model is set (kvDistill.model.path)");
    }
}

/** The configured model file does not exist or cannot be read. */
export class ModelFileMissingError extends KvDistillError {
    public constructor(public readonly modelPath: string, options?: {cause?: unknown}) {
        super(`The model file ${modelPath} does not exist or cannot be read`, options);
    }
}

/** The model is an "hf:" URI that has not been downloaded and the user did not agree to download it. */
export class ModelDownloadDeclinedError extends KvDistillError {
    public constructor(public readonly uri: string) {
        super(`The model ${uri} is not downloaded yet`);
    }
}

/** This build of the extension has no engine wired in (only in development builds). */
export class EngineUnavailableError extends KvDistillError {
    public constructor() {
        super("The KV-Distill engine is not available in this build");
    }
}

/** The command needs an open folder. */
export class NoWorkspaceError extends KvDistillError {
    public constructor() {
        super("Open a folder first: KV-Distill works on the open workspace");
    }
}

/** The user cancelled the operation. */
export class OperationCancelledError extends KvDistillError {
    public constructor(operation: string, options?: {cause?: unknown}) {
        super(`${operation} was cancelled`, options);
    }
}
