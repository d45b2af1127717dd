// A private copy ("shadow") of a repository's git index, for `git status` to refresh and keep.
//
// The indexer never lets git write the real index (the user's editor and git own it). But an index
// that git has not refreshed since files were checked out, copied or touched ("racily clean" or
// stat-dirty entries) makes every `git status` without that write re-read and hash those files: on
// a fresh clone of llama.cpp, 0.3-0.9 s per index, again and again. Pointed at a shadow copy
// (GIT_INDEX_FILE), status refreshes and stores the shadow instead, so the next index costs what an
// up-to-date index costs. The shadow is copied again whenever the real index changes (staging, a
// commit, a checkout, or git's own refresh), so it never answers from stale staging.
import {createHash} from "node:crypto";
import {copyFileSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, type Stats} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Where shadows are kept when the caller names no folder: the user's own folder under the system's temporary folder. */
export function defaultShadowGitIndexFolder(): string {
    return path.join(os.tmpdir(), `kv-distill-git-index-${typeof process.getuid === "function" ? String(process.getuid()) : os.userInfo().username}`);
}

type ShadowSource = {indexPath: string; size: number; mtimeMs: number; ctimeMs: number; ino: number};

export type ShadowGitIndex = {
    path: string;
    /** Copied from the real index by this call: no status has refreshed it yet, so its entries may still hold another clone's inodes. */
    copiedNow: boolean;
};

/**
 * The shadow of `indexPath` in `shadowFolder`, copied afresh when the real index changed since the
 * shadow was made; undefined when there is no index (a repository without one) or the folder cannot
 * be used safely (not ours, or open to others), and status then reads the real index as before.
 */
export function prepareShadowGitIndex(indexPath: string, shadowFolder: string): ShadowGitIndex | undefined {
    let source: ShadowSource;
    let indexStat: Stats;
    try {
        indexStat = statSync(indexPath);
        source = {indexPath, size: indexStat.size, mtimeMs: indexStat.mtimeMs, ctimeMs: indexStat.ctimeMs, ino: indexStat.ino};
        mkdirSync(shadowFolder, {recursive: true, mode: 0o700});
        const folderStat = lstatSync(shadowFolder);
        // Another user's folder, one others can write to, or a link planted in its place could hand
        // git an index of someone else's making or send our copies elsewhere.
        if (!folderStat.isDirectory() || (typeof process.getuid === "function" && folderStat.uid !== process.getuid()) || (process.platform !== "win32" && (folderStat.mode & 0o022) !== 0))
            return undefined;
    } catch {
        return undefined;
    }
    const shadowPath = path.join(shadowFolder, `${createHash("sha256").update(indexPath).digest("hex").slice(0, 32)}.index`);
    const sourcePath = `${shadowPath}.source.json`;
    try {
        const kept = JSON.parse(readFileSync(sourcePath, "utf8")) as Partial<ShadowSource>;
        if (kept.indexPath === source.indexPath && kept.size === source.size && kept.mtimeMs === source.mtimeMs && kept.ctimeMs === source.ctimeMs && kept.ino === source.ino && statSync(shadowPath).isFile())
            return {path: shadowPath, copiedNow: false};
    } catch {
        // No shadow yet, or an unreadable record of its source: make it again.
    }
    try {
        // The real index's state is taken before the copy: if it changes meanwhile, the next index sees
        // a different state and copies again. Copy, then rename, so that git never reads half a copy.
        const partialPath = `${shadowPath}.${String(process.pid)}.partial`;
        copyFileSync(indexPath, partialPath);
        // The copy keeps the index's modification time: git trusts an entry's recorded file times only
        // when the file is older than the index ("racy git"), so a newer copy could take a file edited in
        // the same second as the index was written for unchanged. The first status on the copy checks
        // those entries' contents, as on the real index, and stores the copy refreshed.
        // A millisecond earlier: file times are set through floating-point seconds, which may round up,
        // and an older copy only makes git check a few more entries, a newer one could skip one.
        utimesSync(partialPath, indexStat.atimeMs / 1000, (indexStat.mtimeMs - 1) / 1000);
        renameSync(partialPath, shadowPath);
        writeFileSync(sourcePath, JSON.stringify(source));
        return {path: shadowPath, copiedNow: true};
    } catch {
        discardShadowGitIndex(shadowPath);
        return undefined;
    }
}

/** Removes a shadow (and its record), e.g. after git could not read it. */
export function discardShadowGitIndex(shadowPath: string): void {
    for (const file of [shadowPath, `${shadowPath}.source.json`, `${shadowPath}.${String(process.pid)}.partial`])
        rmSync(file, {force: true});
}
