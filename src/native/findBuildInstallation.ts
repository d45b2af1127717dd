// Where the installation the engine runs keeps node-llama-cpp and the shipped source archive: the
// extension folder of an installed VSIX, or a development checkout.
import {existsSync} from "node:fs";
import * as path from "node:path";

export type BuildInstallation = {
    /** The extension (or checkout) root: the folder holding node_modules and dist. */
    root: string;
    nodeLlamaCppDirectory: string;
    /** dist/native/llama.cpp.tar.br, made by `npm run package`; absent in a development checkout. */
    sourceArchivePath: string;
};

/** Walks up from `startDirectory` (the running bundle's folder) to the folder whose node_modules holds node-llama-cpp. */
export function findBuildInstallation(startDirectory: string): BuildInstallation | undefined {
    let directory = path.resolve(startDirectory);
    for (;;) {
        const nodeLlamaCppDirectory = path.join(directory, "node_modules", "node-llama-cpp");
        if (existsSync(path.join(nodeLlamaCppDirectory, "package.json")))
            return {root: directory, nodeLlamaCppDirectory, sourceArchivePath: path.join(directory, "dist", "native", "llama.cpp.tar.br")};
        const parent = path.dirname(directory);
        if (parent === directory)
            return undefined;
        directory = parent;
    }
}
