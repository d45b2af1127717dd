// The file references in an answer that resolve to files inside the workspace, in order.
import {extractFileReferenceCandidates} from "./fileReferences";
import {resolveWorkspaceFileReference, type FileSystemProbe, type ResolvedFileReference} from "./resolveWorkspaceFileReference";
import type {WorkspaceFolderLocation} from "./workspacePaths";

export type FoundFileReference = {
    /** The reference as written in the answer. */
    text: string;
    file: ResolvedFileReference;
};

export async function findWorkspaceFileReferences(
    answer: string,
    folders: readonly WorkspaceFolderLocation[],
    probe: FileSystemProbe
): Promise<FoundFileReference[]> {
    const found: FoundFileReference[] = [];
    for (const candidate of extractFileReferenceCandidates(answer)) {
        const resolution = await resolveWorkspaceFileReference(candidate, folders, probe);
        if (resolution.ok)
            found.push({text: candidate, file: resolution.file});
    }
    return found;
}
