// The order of files in the prompt. The model's KV cache can be reused up to the first character
// that changed, so an edit costs everything from the edited file to the end of the prompt. Files
// that have not changed for a long time are the least likely to change next (changes cluster in a
// project's active files), so they go first and the active files go last:
//   1. committed, unchanged files, by the time of the last commit that touched them, oldest first;
//      outside git, by modification time;
//   2. files with uncommitted changes or untracked files, last of all (they are being edited now),
//      by modification time;
//   3. ties by display path, compared by UTF-16 code units so the order never depends on a locale.
// docs/BENCHMARKS.md measures how much of the prompt an edit invalidates with this order against
// plain path order.

export type PromptOrderKey = {displayPath: string; lastChangedMs: number; uncommitted: boolean};

export function compareFilesForPrompt(a: PromptOrderKey, b: PromptOrderKey): number {
    if (a.uncommitted !== b.uncommitted)
        return a.uncommitted ? 1 : -1;
    if (a.lastChangedMs !== b.lastChangedMs)
        return a.lastChangedMs - b.lastChangedMs;
    return a.displayPath < b.displayPath ? -1 : a.displayPath > b.displayPath ? 1 : 0;
}
