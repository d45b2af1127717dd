// Errors of model file validation (validateModelFile.ts). Each names the offending file in `file`.
import {KvDistillError} from "../common/errors";

/** Base of the model file errors: the file cannot be used as a model. */
export class ModelFileError extends KvDistillError {
    public constructor(message: string, public readonly file: string, options?: {cause?: unknown}) {
        super(message, options);
    }
}

/** The model path does not exist (or is not a regular file). */
export class ModelFileMissingError extends ModelFileError {}

/** The model file exists but cannot be opened or read (permissions, I/O error). */
export class ModelFileUnreadableError extends ModelFileError {}

/** The file does not start with the GGUF magic: it is not a GGUF model at all. */
export class ModelFileNotGgufError extends ModelFileError {}

/** The GGUF version is one llama.cpp does not load (1 is obsolete; above 3 is newer than the bundled llama.cpp). */
export class ModelFileUnsupportedVersionError extends ModelFileError {
    public constructor(message: string, file: string, public readonly version: number) {
        super(message, file);
    }
}

/** The file ends before its header or its tensor data do: an interrupted download or copy. */
export class ModelFileTruncatedError extends ModelFileError {
    public constructor(message: string, file: string, public readonly expectedBytes: number, public readonly actualBytes: number) {
        super(message, file);
    }
}

/** The header is malformed (unknown value or tensor type, bad alignment, overlapping tensors). */
export class ModelFileCorruptError extends ModelFileError {}

/** The model's architecture is not one this extension supports (see supportedModelArchitectures). */
export class ModelArchitectureUnsupportedError extends ModelFileError {
    public constructor(message: string, file: string, public readonly architecture: string | undefined) {
        super(message, file);
    }
}
