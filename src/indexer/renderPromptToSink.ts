// The indexer's pipeline. Enumerate every folder (listings and ignore files only), ask git once
// per repository when each file last changed (started as soon as the repository is known, so that
// git works while the walk goes on), order the files, then read, hash and render them
// one at a time in prompt order, handing each section to the caller's sink. Nothing holds more
// than a few files' contents at once (a short read-ahead), so memory is bounded by the largest
// file, not by the workspace.
import {createHash} from "node:crypto";
import {statSync} from "node:fs";
import * as path from "node:path";
import type {IndexedFile, IndexManifest, SkippedFile} from "./indexTypes";
import type {IndexProgress, IndexWorkspaceOptions} from "./indexWorkspace";
import {nodeIndexerFileSystem, type IndexerFileSystem} from "./indexerFileSystem";
import {compileFilesExcludeGlob} from "./compileFilesExcludeGlob";
import {enumerateWorkspaceFolder, type IgnoreFileRecord, type RepositoryContext, type WorkspaceFileCandidate} from "./enumerateWorkspaceFolder";
import {findGitRepository} from "./findGitRepository";
import type {GitRepositoryState} from "./readGitRepositoryState";
import {startGitRepositoryState, type StartedGitRepositoryState} from "./startGitRepositoryState";
import {compareFilesForPrompt} from "./compareFilesForPrompt";
import {createReadBufferPool, readIndexableFile, readIndexableFileSync, type IndexableFileRead} from "./readIndexableFile";
import {needsMarkupEscaping, promptFormatId} from "./renderFileSection";
import {renderFileSectionFromBytes} from "./renderFileSectionFromBytes";
import {outlineFileSection, promptTailSha256, renderPromptTail} from "./renderPromptTail";
import {defaultOutlineDetail, renderWorkspaceOutline, type OutlinedFile} from "./workspaceOutline";
import {guessLanguageId} from "./guessLanguageId";
import {WorkspaceFolderError} from "./WorkspaceFolderError";
import {findKnownBinaryExtension} from "./detectBinaryContent";
import {yieldToEventLoop} from "./yieldToEventLoop";
import {selectSha256Hex} from "./selectSha256Hex";

export type PromptChunk =
    /** One file's section: `header` then `body`; `file` carries its final character spans. */
    | {kind: "file"; file: IndexedFile; header: string; body: string}
    /** The tail (workspace outline, file list), starting at manifest.tailStart. Not sent when it is empty (both turned off, or no outline entry and no list). */
    | {kind: "tail"; text: string; charStart: number};

/** Receives the prompt in order. A returned promise is awaited before the next chunk (back-pressure). */
export type PromptSink = (chunk: PromptChunk) => void | Promise<void>;

export const defaultMaxFileBytes = 1024 * 1024;
const readAheadFiles = 16;
const statConcurrency = 32;
const progressIntervalMs = 100;

export async function renderPromptToSink(options: IndexWorkspaceOptions, sink: PromptSink, signal?: AbortSignal): Promise<IndexManifest> {
    signal?.throwIfAborted();
    const fileSystem = options.fileSystem ?? nodeIndexerFileSystem;
    const maxFileBytes = options.maxFileBytes ?? defaultMaxFileBytes;
    const useGit = options.useGit ?? true;
    const useDefaultExcludes = options.useDefaultExcludes ?? true;
    const gitCommand = options.gitCommand ?? "git";
    // Path matching follows the platform's file system: case-insensitive where names are.
    const ignoreCase = process.platform === "win32" || process.platform === "darwin";
    const filesExclude = (options.filesExclude ?? []).map((pattern) => compileFilesExcludeGlob(pattern, ignoreCase));
    const progress = createProgressReporter(options.onProgress);
    const workspaceOutline = options.workspaceOutline ?? true;
    const outlineDetail = options.outlineDetail ?? defaultOutlineDetail;
    const fileListTail = options.fileListTail ?? true;
    const warnings: string[] = [];

    const folders = await resolveFolders(options.folders, fileSystem);
    const candidates: WorkspaceFileCandidate[] = [];
    const skipped: SkippedFile[] = [];
    const ignoreFiles: IgnoreFileRecord[] = [];
    const repositories = new Map<string, RepositoryEntry>();

    // Each folder's repository is located before any walk, so that each repository's git status
    // and ls-files start once, with all its folders' pathspecs, and run while the folders are walked.
    const folderRepositories: Array<RepositoryContext | undefined> = [];
    for (const folder of folders) {
        let repository: RepositoryContext | undefined;
        if (useGit) {
            const location = await findGitRepository(folder.path, gitCommand, signal);
            if (location !== undefined) {
                repository = {topLevel: location.topLevel, repositoryPrefix: location.folderPrefix, folderRelativeRoot: ""};
                const entry = repositoryEntry(repositories, location.topLevel);
                entry.pathspecs.add(location.folderPrefix.replace(/\/$/, "") || ".");
                entry.indexPath ??= location.indexPath;
            }
        }
        folderRepositories.push(repository);
    }
    const startGitQueries = (topLevel: string, entry: RepositoryEntry): void => {
        entry.started?.cancel();
        entry.started = startGitRepositoryState({topLevel, pathspecs: [...entry.pathspecs], gitCommand, signal, indexPath: entry.indexPath});
    };
    for (const [topLevel, entry] of repositories)
        startGitQueries(topLevel, entry);

    const ordered: WorkspaceFileCandidate[] = [];
    let namesNeedMarkupEscaping = false;
    try {
        for (const [index, folder] of folders.entries()) {
            const enumeration = await enumerateWorkspaceFolder({
                folderName: folder.name,
                folderPath: folder.path,
                displayPrefix: folder.displayPrefix,
                repository: folderRepositories[index],
                fileSystem,
                filesExclude,
                extraExcludes: options.extraExcludes ?? [],
                useDefaultExcludes,
                ignoreCase,
                signal,
                onFileSeen: () => progress.fileSeen(),
                // A nested repository has its own history: its queries start now, while the walk goes on
                // (with the whole repository as the pathspec, which covers any folder pathspec of it).
                onNestedRepository: (nested) => {
                    const entry = repositoryEntry(repositories, nested.topLevel);
                    if (!entry.pathspecs.has(".")) {
                        entry.pathspecs.add(".");
                        startGitQueries(nested.topLevel, entry);
                    }
                }
            });
            candidates.push(...enumeration.candidates);
            namesNeedMarkupEscaping ||= enumeration.namesNeedMarkupEscaping;
            skipped.push(...enumeration.skipped);
            ignoreFiles.push(...enumeration.ignoreFiles);
        }

        // Files that are dropped by extension are known without opening them; keep them out of git's work.
        const readableByRepository = new Map<string | undefined, WorkspaceFileCandidate[]>();
        for (const candidate of candidates) {
            const extension = findKnownBinaryExtension(candidate.name);
            if (extension !== undefined) {
                skipped.push({displayPath: candidate.displayPath, reason: "binary", detail: `binary file type (.${extension})`});
                continue;
            }
            const topLevel = candidate.repository?.topLevel;
            let group = readableByRepository.get(topLevel);
            if (group === undefined)
                readableByRepository.set(topLevel, (group = []));
            group.push(candidate);
            if (topLevel !== undefined && candidate.repositoryPath !== undefined)
                repositoryEntry(repositories, topLevel).wanted.push(candidate.repositoryPath);
        }

        // Date the files group by group as each repository answers: files outside git first, then
        // each repository's as soon as its log is in, so that the modification times of some are
        // read while git still works on others (a nested repository's status can take a second).
        const states = [...repositories].map(([topLevel, entry]) => settle(entry.started!.finish(entry.wanted).then((state) => ({topLevel, state}))));
        await attachChangeTimes(readableByRepository.get(undefined) ?? [], undefined, fileSystem, skipped, signal, ordered);
        const problems = new Map<string, string>();
        const pending = new Set(states);
        while (pending.size > 0) {
            const answered = await Promise.race(pending);
            pending.delete(answered.settled);
            if (!answered.ok)
                throw answered.error;
            const {topLevel, state} = answered.value;
            if (state.problem !== undefined)
                problems.set(topLevel, state.problem);
            await attachChangeTimes(readableByRepository.get(topLevel) ?? [], state, fileSystem, skipped, signal, ordered);
        }
        for (const topLevel of repositories.keys()) {
            const problem = problems.get(topLevel);
            if (problem !== undefined)
                warnings.push(`${topLevel}: ${problem}; ordering by modification time there`);
        }
    } catch (error) {
        // No git process outlives a failed index.
        for (const entry of repositories.values())
            entry.started?.cancel();
        throw error;
    }

    if (options.order === "path")
        ordered.sort((a, b) => (a.displayPath < b.displayPath ? -1 : a.displayPath > b.displayPath ? 1 : 0));
    else
        ordered.sort(compareFilesForPrompt);

    // With the real file system, files are read in synchronous calls, one at a time (see
    // readIndexableFileSync). With another file system, a few files are read ahead so that its
    // latency overlaps hashing, rendering and the sink.
    const synchronous = fileSystem === nodeIndexerFileSystem;
    const files: IndexedFile[] = [];
    const indexedCandidates = new Set<WorkspaceFileCandidate>();
    const reads: Array<Promise<IndexableFileRead> | undefined> = [];
    const buffers = createReadBufferPool();
    const startRead = (index: number): void => {
        if (!synchronous && index < ordered.length)
            reads[index] = readIndexableFile(fileSystem, ordered[index]!.absolutePath, maxFileBytes, buffers);
    };
    for (let index = 0; index < readAheadFiles; index++)
        startRead(index);
    let charOffset = 0;
    // Each file's outline entries, taken while its section is at hand (no content is kept for the tail).
    const outlinedFiles: OutlinedFile[] = [];
    const displayPathsArePlain = !namesNeedMarkupEscaping && !folders.some((folder) => needsMarkupEscaping(folder.displayPrefix));
    for (let index = 0; index < ordered.length; index++) {
        const candidate = ordered[index]!;
        let read: IndexableFileRead;
        try {
            const pause = yieldToEventLoop();
            if (pause !== undefined)
                await pause;
            signal?.throwIfAborted();
            read = synchronous ? readIndexableFileSync(candidate.absolutePath, maxFileBytes, buffers, candidate.statSizeBytes) : await reads[index]!;
        } catch (error) {
            // Let the reads already started settle, so no file descriptor outlives the call.
            await Promise.allSettled(reads.slice(index).filter((pending) => pending !== undefined));
            throw error;
        }
        if (!synchronous) {
            reads[index] = undefined;
            startRead(index + readAheadFiles);
        }
        if (read.kind === "skip") {
            skipped.push({displayPath: candidate.displayPath, reason: read.reason, detail: read.detail});
            continue;
        }
        const language = guessLanguageId(candidate.name);
        const contentHash = sha256Hex(read.bytes);
        const sizeBytes = read.bytes.length;
        const section = renderFileSectionFromBytes(candidate.displayPath, language, read.bytes, read.isAscii, displayPathsArePlain);
        read.release(); // the bytes are hashed and decoded: the buffer can take the next file
        if (workspaceOutline) {
            const outlined = outlineFileSection(candidate.displayPath, section.body, displayPathsArePlain, outlineDetail);
            if (outlined !== undefined)
                outlinedFiles.push(outlined);
        }
        const file: IndexedFile = {
            folderName: candidate.folderName,
            absolutePath: candidate.absolutePath,
            relativePath: candidate.relativePath,
            displayPath: candidate.displayPath,
            language,
            sizeBytes,
            contentHash,
            lastChangedMs: candidate.lastChangedMs,
            uncommitted: candidate.uncommitted,
            charStart: charOffset,
            headerEnd: charOffset + section.header.length,
            charEnd: charOffset + section.header.length + section.body.length
        };
        charOffset = file.charEnd;
        files.push(file);
        indexedCandidates.add(candidate);
        const sunk = sink({kind: "file", file, header: section.header, body: section.body});
        if (sunk !== undefined)
            await sunk;
        progress.fileIndexed(file.sizeBytes);
    }

    const tailStart = charOffset;
    const outlineText = workspaceOutline ? renderWorkspaceOutline(outlinedFiles, outlineDetail) : "";
    const tailText = renderPromptTail({
        outline: outlineText,
        // The paths in the walk's order, which is nearly path order: the list's sort then has little to do.
        fileListPaths: fileListTail ? candidates.filter((candidate) => indexedCandidates.has(candidate)).map((candidate) => candidate.displayPath) : undefined
    }, displayPathsArePlain);
    if (tailText !== "") {
        await sink({kind: "tail", text: tailText, charStart: tailStart});
        charOffset += tailText.length;
    }
    progress.finish();

    skipped.sort((a, b) => (a.displayPath < b.displayPath ? -1 : a.displayPath > b.displayPath ? 1 : 0));
    const rules = {
        ignoreFiles: [...ignoreFiles].sort((a, b) => (a.displayPath < b.displayPath ? -1 : a.displayPath > b.displayPath ? 1 : 0)),
        filesExclude: [...(options.filesExclude ?? [])],
        extraExcludes: [...(options.extraExcludes ?? [])],
        maxFileBytes,
        useDefaultExcludes
    };
    return {
        formatVersion: 1,
        files,
        skipped,
        rulesDigest: createHash("sha256").update(JSON.stringify(rules)).digest("hex"),
        promptChars: charOffset,
        tailStart,
        tail: {
            outline: workspaceOutline,
            // Recorded only for "definitions": a manifest without it is a names outline (manifestOutlineDetail),
            // as every manifest saved while "names" was the default is.
            ...(workspaceOutline && outlineDetail === "definitions" ? {outlineDetail} : {}),
            fileList: fileListTail,
            outlineChars: outlineText.length,
            sha256: promptTailSha256(tailText)
        },
        promptFormat: promptFormatId,
        order: options.order ?? "change-time",
        rules,
        warnings
    };
}

const sha256Hex = selectSha256Hex();

type ResolvedFolder = {name: string; path: string; displayPrefix: string};

async function resolveFolders(folders: IndexWorkspaceOptions["folders"], fileSystem: IndexerFileSystem): Promise<ResolvedFolder[]> {
    const usedNames = new Set<string>();
    const resolved: ResolvedFolder[] = [];
    for (const folder of folders) {
        const absolutePath = path.resolve(folder.path);
        let stat;
        try {
            stat = await fileSystem.stat(absolutePath);
        } catch (error) {
            throw new WorkspaceFolderError(`workspace folder not found: ${absolutePath}`, absolutePath, {cause: error});
        }
        if (stat.kind !== "directory")
            throw new WorkspaceFolderError(`workspace folder is not a folder: ${absolutePath}`, absolutePath);
        // Two folders with the same name would give their files the same display paths.
        const baseName = folder.name.replace(/[\\/]/g, "_") || "folder";
        let name = baseName;
        for (let suffix = 2; usedNames.has(name); suffix++)
            name = `${baseName}~${suffix}`;
        usedNames.add(name);
        resolved.push({name: folder.name, path: absolutePath, displayPrefix: folders.length > 1 ? `${name}/` : ""});
    }
    return resolved;
}

/**
 * One repository's pathspecs (from the folders in it, "." for a nested one), the paths to date, and
 * its running queries. `wanted` is a list, not a set: most of a large tree's paths are not tracked
 * and are dropped by finish() anyway, which also takes a path listed twice (two overlapping folders
 * of one repository) once.
 */
type RepositoryEntry = {pathspecs: Set<string>; wanted: string[]; started: StartedGitRepositoryState | undefined; indexPath: string | undefined};

function repositoryEntry(repositories: Map<string, RepositoryEntry>, topLevel: string): RepositoryEntry {
    let entry = repositories.get(topLevel);
    if (entry === undefined) {
        entry = {pathspecs: new Set(), wanted: [], started: undefined, indexPath: undefined};
        repositories.set(topLevel, entry);
    }
    return entry;
}

/** Dates the files of one repository (or those outside git: state undefined) and appends them to `ordered`. */
async function attachChangeTimes(
    candidates: readonly WorkspaceFileCandidate[],
    state: GitRepositoryState | undefined,
    fileSystem: IndexerFileSystem,
    skipped: SkippedFile[],
    signal: AbortSignal | undefined,
    ordered: WorkspaceFileCandidate[]
): Promise<void> {
    const needModificationTime: WorkspaceFileCandidate[] = [];
    // Empty answers are common (a dependency folder the repository ignores: no status, no history)
    // and then need no lookup, which would hash every path of the folder.
    const uncommittedPaths = state !== undefined && state.problem === undefined && state.uncommittedPaths.size > 0 ? state.uncommittedPaths : undefined;
    const commitTimes = state !== undefined && state.lastCommitMsByPath.size > 0 ? state.lastCommitMsByPath : undefined;
    for (const candidate of candidates) {
        const repositoryPath = candidate.repositoryPath ?? "";
        candidate.uncommitted = uncommittedPaths !== undefined && uncommittedPaths.has(repositoryPath);
        const committedMs = commitTimes?.get(repositoryPath);
        if (candidate.uncommitted || committedMs === undefined)
            needModificationTime.push(candidate);
        else {
            candidate.lastChangedMs = committedMs;
            ordered.push(candidate);
        }
    }
    // stat only the files git could not date: everything outside git, uncommitted files.
    if (fileSystem === nodeIndexerFileSystem) {
        // The real file system: synchronous calls in one loop (see nodeIndexerFileSystem).
        for (const entry of needModificationTime) {
            const pause = yieldToEventLoop();
            if (pause !== undefined)
                await pause;
            signal?.throwIfAborted();
            try {
                const stats = statSync(entry.absolutePath);
                entry.lastChangedMs = Math.floor(stats.mtimeMs);
                entry.statSizeBytes = stats.size;
                ordered.push(entry);
            } catch (error) {
                skipped.push({displayPath: entry.displayPath, reason: "unreadable", detail: `vanished before it could be read (${error instanceof Error ? error.message : String(error)})`});
            }
        }
        return;
    }
    let next = 0;
    const worker = async (): Promise<void> => {
        for (;;) {
            await yieldToEventLoop();
            signal?.throwIfAborted();
            if (next >= needModificationTime.length)
                return;
            const entry = needModificationTime[next++]!;
            try {
                entry.lastChangedMs = Math.floor((await fileSystem.stat(entry.absolutePath)).mtimeMs);
                ordered.push(entry);
            } catch (error) {
                skipped.push({displayPath: entry.displayPath, reason: "unreadable", detail: `vanished before it could be read (${error instanceof Error ? error.message : String(error)})`});
            }
        }
    };
    await Promise.all(Array.from({length: Math.min(statConcurrency, needModificationTime.length)}, worker));
}

type Settled<T> = {settled: Promise<Settled<T>>} & ({ok: true; value: T} | {ok: false; error: unknown});

/** A promise that never rejects, carrying itself, so that Promise.race over a set of them says which one settled and none is left unhandled. */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
    const settled: Promise<Settled<T>> = promise.then((value) => ({settled, ok: true as const, value}), (error: unknown) => ({settled, ok: false as const, error}));
    return settled;
}

/** Counts without an object per call (it runs for every file); reports at most every 100 ms. */
function createProgressReporter(onProgress: ((progress: IndexProgress) => void) | undefined): {fileSeen(): void; fileIndexed(bytes: number): void; finish(): void} {
    const totals: IndexProgress = {filesSeen: 0, filesIndexed: 0, bytes: 0};
    let lastReportMs = 0;
    const report = (): void => {
        if (onProgress === undefined)
            return;
        const now = Date.now();
        if (now - lastReportMs >= progressIntervalMs) {
            lastReportMs = now;
            onProgress({...totals});
        }
    };
    return {
        fileSeen: () => {
            totals.filesSeen++;
            report();
        },
        fileIndexed: (bytes) => {
            totals.filesIndexed++;
            totals.bytes += bytes;
            report();
        },
        finish: () => onProgress?.({...totals})
    };
}
