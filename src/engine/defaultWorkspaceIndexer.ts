// The workspace indexer the command line and the engine process use. The Engine takes the indexer
// as a dependency; this is the one place that picks the real one.
//
// MERGE NOTE (engine branch): the indexer of issue 3 lives on its own branch. Once merged, this
// function becomes an adapter over src/indexer/indexWorkspace.ts and src/indexer/diffManifests.ts:
//     indexWorkspace({folders: request.folders.map((folder) => ({name: path.basename(folder), path: folder})),
//                     extraExcludes: request.extraExcludes, maxFileBytes: request.maxFileBytes}, signal)
//     diffManifests(previous, current) -> {firstInvalidatedChar}
// Until then the command line says so instead of indexing. The engine process (engineMain.ts) wires
// the Engine as: new Engine({indexer: await loadDefaultWorkspaceIndexer(), log: (line) => logger.info(line)}).
import {KvDistillError} from "../common/errors";
import type {WorkspaceIndexer} from "./workspaceIndexer";

/** Thrown when this build has no workspace indexer (the engine branch before the indexer is merged). */
export class WorkspaceIndexerMissingError extends KvDistillError {}

export async function loadDefaultWorkspaceIndexer(): Promise<WorkspaceIndexer> {
    throw new WorkspaceIndexerMissingError("this build has no workspace indexer yet (issue 3 is not merged into it)");
}
