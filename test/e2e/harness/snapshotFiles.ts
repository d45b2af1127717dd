import {createHash} from "node:crypto";
import {readdir, readFile} from "node:fs/promises";
import path from "node:path";

/** Every file under `root` (relative path, `/`-separated) with the SHA-256 of its bytes. */
export async function snapshotFiles(root: string): Promise<Map<string, string>> {
    const snapshot = new Map<string, string>();
    for (const entry of await readdir(root, {recursive: true, withFileTypes: true})) {
        if (!entry.isFile() && !entry.isSymbolicLink())
            continue;
        const absolute = path.join(entry.parentPath ?? entry.path, entry.name);
        const relative = path.relative(root, absolute).split(path.sep).join("/");
        snapshot.set(relative, createHash("sha256").update(await readFile(absolute)).digest("hex"));
    }
    return new Map([...snapshot].sort(([a], [b]) => a.localeCompare(b)));
}
