import {realpath, stat} from "node:fs/promises";
import type {FileSystemProbe} from "./resolveWorkspaceFileReference";

/** The FileSystemProbe of the local disk. */
export const nodeFileSystemProbe: FileSystemProbe = {
    async realPath(filePath) {
        try {
            return await realpath(filePath);
        } catch {
            return undefined;
        }
    },
    async isFile(filePath) {
        try {
            return (await stat(filePath)).isFile();
        } catch {
            return false;
        }
    }
};
