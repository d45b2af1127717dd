// What the engine needs from the workspace indexer (issue 3). The engine takes it as a dependency
// so that it never imports the indexer's file-system code itself and tests can pass small fixtures.
import type {IndexManifest, IndexResult} from "../indexer/indexTypes";

export type WorkspaceIndexRequest = {
    folders: string[];
    extraExcludes?: string[];
    /** VS Code glob syntax (files.exclude). */
    filesExclude?: string[];
    maxFileBytes?: number;
    /** End the prompt with the workspace outline (IndexWorkspaceOptions.workspaceOutline). Default true. */
    workspaceOutline?: boolean;
};

export type WorkspaceIndexer = {
    indexWorkspace(request: WorkspaceIndexRequest, signal?: AbortSignal): Promise<IndexResult>;
    /** The earliest prompt character an edit between the two manifests invalidates (promptChars of the shorter when only the end changed). */
    diffManifests(previous: IndexManifest, current: IndexManifest): {firstInvalidatedChar: number};
};
