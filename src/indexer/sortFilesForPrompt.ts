// Sorts files into prompt order (compareFilesForPrompt) without a comparator call per comparison
// in the common case: the files are grouped by change time (a Map), the distinct times sorted as
// numbers (a typed array's native sort), and only files sharing a time compared by path. On a
// 20k-file tree, where nearly every file has a time of its own, this took a few milliseconds
// against about 20 for Array.prototype.sort with compareFilesForPrompt, whose calls read two
// scattered objects each. The order is exactly compareFilesForPrompt's, ties between equal paths
// kept in their input order (as a stable sort keeps them).
import {compareFilesForPrompt, type PromptOrderKey} from "./compareFilesForPrompt";

/** Sorts `files` in place into prompt order and returns it. */
export function sortFilesForPrompt<T extends PromptOrderKey>(files: T[]): T[] {
    const committed = new Map<number, T[]>();
    const uncommitted = new Map<number, T[]>();
    for (const file of files) {
        const time = file.lastChangedMs;
        // Anything but a finite number (never produced by the indexer) takes the plain sort.
        if (!Number.isFinite(time))
            return files.sort(compareFilesForPrompt);
        // + 0 turns -0 into 0, which compareFilesForPrompt takes as equal times.
        const groups = file.uncommitted ? uncommitted : committed;
        const group = groups.get(time + 0);
        if (group === undefined)
            groups.set(time + 0, [file]);
        else
            group.push(file);
    }
    let next = 0;
    for (const groups of [committed, uncommitted]) {
        const times = Float64Array.from(groups.keys()).sort();
        for (const time of times) {
            const group = groups.get(time)!;
            if (group.length > 1)
                group.sort(compareFilesForPrompt);
            for (const file of group)
                files[next++] = file;
        }
    }
    return files;
}
