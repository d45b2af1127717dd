// What the engine needs from the workspace indexer (issue 3). The engine takes it as a dependency
// so that it never imports the indexer's file-system code itself and tests can pass small fixtures.
import type {IndexManifest, IndexResult} from "../indexer/indexTypes";
import type {OutlineDetail} from "../indexer/workspaceOutline";

export type WorkspaceIndexRequest = {
    folders: string[];
    extraExcludes?: string[];
    /** VS Code glob syntax (files.exclude). */
    filesExclude?: string[];
    maxFileBytes?: number;
    /** End the prompt with the workspace outline (IndexWorkspaceOptions.workspaceOutline). Default true. */
    workspaceOutline?: boolean;
    /** What the outline shows (IndexWorkspaceOptions.outlineDetail). Default "names". */
    outlineDetail?: OutlineDetail;
};

export type WorkspaceIndexer = {
    indexWorkspace(request: WorkspaceIndexRequest, signal?: AbortSignal): Promise<IndexResult>;
    /** The earliest prompt character an edit between the two manifests invalidates (promptChars of the shorter when only the end changed). */
    diffManifests(previous: IndexManifest, current: IndexManifest): {firstInvalidatedChar: number};
};
