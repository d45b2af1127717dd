import {KvDistillError} from "../common/errors";

/** Thrown by the indexer when a workspace folder it was asked to index is missing or is not a folder. */
export class WorkspaceFolderError extends KvDistillError {
    public constructor(message: string, public readonly folderPath: string, options?: {cause?: unknown}) {
        super(message, options);
    }
}
