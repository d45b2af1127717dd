// The workspace indexer the command line and the engine process use. The Engine takes the indexer
// as a dependency (tests pass small fixtures); this is the one place that picks the real one.
import * as path from "node:path";
import {diffManifests} from "../indexer/diffManifests";
import {indexWorkspace} from "../indexer/indexWorkspace";
import type {WorkspaceIndexer} from "./workspaceIndexer";

export const defaultWorkspaceIndexer: WorkspaceIndexer = {
    indexWorkspace: (request, signal) => indexWorkspace({
        folders: request.folders.map((folder) => ({name: path.basename(path.resolve(folder)), path: folder})),
        ...(request.extraExcludes === undefined ? {} : {extraExcludes: request.extraExcludes}),
        ...(request.filesExclude === undefined ? {} : {filesExclude: request.filesExclude}),
        ...(request.maxFileBytes === undefined ? {} : {maxFileBytes: request.maxFileBytes}),
        ...(request.workspaceOutline === undefined ? {} : {workspaceOutline: request.workspaceOutline}),
        ...(request.outlineDetail === undefined ? {} : {outlineDetail: request.outlineDetail})
    }, signal),
    diffManifests: (previous, current) => diffManifests(previous, current)
};

export async function loadDefaultWorkspaceIndexer(): Promise<WorkspaceIndexer> {
    return defaultWorkspaceIndexer;
}
