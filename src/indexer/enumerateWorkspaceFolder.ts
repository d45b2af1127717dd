// Walks one workspace folder and sorts every entry into "a candidate for the prompt" or "skipped,
// because ...". Nothing is read here except directory listings and ignore files; file contents are
// read later, in prompt order, so that memory stays bounded by the largest file.
import {createHash} from "node:crypto";
import * as path from "node:path";
import type {SkippedFile} from "./indexTypes";
import {listDirectorySync, nodeIndexerFileSystem, type IndexerFileSystem, type IndexerEntryKind} from "./indexerFileSystem";
import {IgnoreRuleStack, type IgnoreRuleSource} from "./IgnoreRuleStack";
import {defaultExclusions} from "./defaultExclusions";
import type {FilesExcludeMatcher} from "./compileFilesExcludeGlob";
import {readSmallTextFile} from "./readSmallTextFile";
import {yieldToEventLoop} from "./yieldToEventLoop";
import {needsMarkupEscaping} from "./renderFileSection";

/** A git repository that files of the folder belong to. */
export type RepositoryContext = {
    topLevel: string;
    /** Prepended to a path below `folderRelativeRoot` to make it repository-relative ("" or "dir/"). */
    repositoryPrefix: string;
    /** Folder-relative path of the repository's root inside the folder ("" when the repository contains the whole folder). */
    folderRelativeRoot: string;
};

export type WorkspaceFileCandidate = {
    folderName: string;
    /** The file's own name (the last path segment). */
    name: string;
    absolutePath: string;
    relativePath: string;
    displayPath: string;
    repository: RepositoryContext | undefined;
    /** Path relative to the repository's top level, when in a repository. */
    repositoryPath: string | undefined;
    /** Filled in after the walk, from git or the modification time (see compareFilesForPrompt). */
    lastChangedMs: number;
    uncommitted: boolean;
    /** The size from the modification-time stat, when one was taken (the read then needs no fstat). */
    statSizeBytes: number | undefined;
};

export type IgnoreFileRecord = {
    /** Display path of the ignore file ("../.gitignore" for one above the workspace folder), or "extraExcludes". */
    displayPath: string;
    contentHash: string;
};

export type EnumerateWorkspaceFolderOptions = {
    folderName: string;
    folderPath: string;
    /** "name/" in multi-root workspaces, "" otherwise. */
    displayPrefix: string;
    repository: RepositoryContext | undefined;
    fileSystem: IndexerFileSystem;
    filesExclude: readonly FilesExcludeMatcher[];
    extraExcludes: readonly string[];
    useDefaultExcludes: boolean;
    ignoreCase: boolean;
    signal: AbortSignal | undefined;
    onFileSeen(): void;
    /** Called as soon as the walk meets a nested repository, so that its git queries can start while the walk goes on. */
    onNestedRepository?(repository: RepositoryContext): void;
};

export type WorkspaceFolderEnumeration = {
    candidates: WorkspaceFileCandidate[];
    skipped: SkippedFile[];
    ignoreFiles: IgnoreFileRecord[];
    /** Repositories found nested inside the folder (a folder with its own .git). */
    nestedRepositories: RepositoryContext[];
    /**
     * Whether some name the walk listed holds a character escapeMarkup escapes. When none does, no
     * candidate's path (the display prefix aside) needs escaping, which spares the prompt's headers
     * and file list a test per path.
     */
    namesNeedMarkupEscaping: boolean;
};

const ignoreFileNames = [".gitignore", ".ignore", ".kvdistillignore"] as const;
const maxIgnoreFileBytes = 1024 * 1024;
const concurrentListings = 8;

type PendingDirectory = {
    absolutePath: string;
    relativePath: string;
    realPath: string;
    rules: IgnoreRuleStack;
    repository: RepositoryContext | undefined;
    /** Real paths of the directories above it, to tell a symlink loop from a second way into the same folder. */
    ancestorRealPaths: readonly string[];
};

export async function enumerateWorkspaceFolder(options: EnumerateWorkspaceFolderOptions): Promise<WorkspaceFolderEnumeration> {
    const result: WorkspaceFolderEnumeration = {candidates: [], skipped: [], ignoreFiles: [], nestedRepositories: [], namesNeedMarkupEscaping: false};
    const {fileSystem} = options;
    const rootRealPath = await fileSystem.realPath(options.folderPath);
    let rootRules = IgnoreRuleStack.empty();

    // Ignore files between the repository's top level and the folder apply to the folder too.
    if (options.repository !== undefined && options.repository.repositoryPrefix !== "") {
        const ancestorIgnoreFiles: IgnoreFileRecord[] = [];
        const ancestorRules = await readAncestorRules(options, options.repository, ancestorIgnoreFiles);
        // A folder the user opened on purpose is indexed even when its repository ignores it
        // (say, a build folder opened to inspect it): the rules above it are dropped then.
        if (ancestorRules.testLevelRoots()?.ignored !== true) {
            rootRules = ancestorRules;
            result.ignoreFiles.push(...ancestorIgnoreFiles);
        }
    }

    const visitedRealPaths = new Set<string>([rootRealPath]);
    const listingSlots = createConcurrencyLimit(concurrentListings);
    // Directories reached through symlinks are walked after all real directories, so that a
    // folder reachable both ways is indexed under its real path.
    const deferredSymlinkedDirectories: Array<{absolutePath: string; relativePath: string; rules: IgnoreRuleStack; repository: RepositoryContext | undefined; ancestorRealPaths: readonly string[]}> = [];

    const walk = async (directory: PendingDirectory): Promise<void> => {
        const pause = yieldToEventLoop();
        if (pause !== undefined)
            await pause;
        options.signal?.throwIfAborted();
        let entries;
        try {
            // The real file system lists synchronously (see nodeIndexerFileSystem): no slot, no promise.
            entries = fileSystem === nodeIndexerFileSystem ? listDirectorySync(directory.absolutePath) : await listingSlots.run(() => fileSystem.readDirectory(directory.absolutePath));
        } catch (error) {
            result.skipped.push({displayPath: display(directory.relativePath, true), reason: "unreadable", detail: `folder could not be listed: ${describeError(error)}`});
            return;
        }
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const names = entries.map((entry) => entry.name);
        if (directory.relativePath !== "" && options.useDefaultExcludes && directory.rules.test(directory.relativePath, true) === undefined) {
            const why = defaultExclusions.findDefaultFolderExclusionByContents(names);
            if (why !== undefined) {
                result.skipped.push({displayPath: display(directory.relativePath, true), reason: "default-excluded", detail: why});
                return;
            }
        }

        let repository = directory.repository;
        const isRepositoryRoot = names.includes(".git");
        if (isRepositoryRoot && directory.relativePath !== "" && repository !== undefined) {
            // A nested repository (a submodule or a clone inside the workspace) has its own history.
            repository = {topLevel: directory.absolutePath, repositoryPrefix: "", folderRelativeRoot: directory.relativePath};
            result.nestedRepositories.push(repository);
            options.onNestedRepository?.(repository);
        }

        const sources: IgnoreRuleSource[] = [];
        const gitEntry = entries.find((entry) => entry.name === ".git");
        if (gitEntry?.kind === "directory")
            await addIgnoreFileSource(path.join(directory.absolutePath, ".git", "info", "exclude"), joinRelative(directory.relativePath, ".git/info/exclude"), sources);
        for (const fileName of ignoreFileNames)
            if (names.includes(fileName))
                await addIgnoreFileSource(path.join(directory.absolutePath, fileName), joinRelative(directory.relativePath, fileName), sources);
        if (directory.relativePath === "" && options.extraExcludes.length > 0) {
            sources.push(IgnoreRuleStack.createSource("extraExcludes", options.extraExcludes, options.ignoreCase));
            result.ignoreFiles.push({displayPath: "extraExcludes", contentHash: sha256(options.extraExcludes.join("\n"))});
        }
        const rules = directory.rules.push(directory.relativePath, "", sources);

        // Subfolders are walked concurrently (listings are limited by listingSlots): the
        // round trips to the file system then overlap, which matters on trees of thousands of folders.
        const subdirectoryWalks: Array<Promise<void>> = [];
        // The folder's paths with their separator, joined once: each entry's path is then one
        // concatenation (one string object kept per candidate, not two).
        const absolutePrefix = withTrailingSeparator(directory.absolutePath);
        const relativePrefix = directory.relativePath === "" ? "" : directory.relativePath + "/";
        for (const entry of entries) {
            if (!result.namesNeedMarkupEscaping && needsMarkupEscaping(entry.name))
                result.namesNeedMarkupEscaping = true;
            const relativePath = relativePrefix + entry.name;
            const absolutePath = absolutePrefix + entry.name;
            let kind: IndexerEntryKind = entry.kind;
            if (kind === "symlink") {
                try {
                    kind = (await fileSystem.stat(absolutePath)).kind;
                } catch (error) {
                    if (kind !== "directory")
                        options.onFileSeen();
                    const loop = errorCode(error) === "ELOOP";
                    result.skipped.push({
                        displayPath: display(relativePath, false),
                        reason: loop ? "symlink-loop" : "unreadable",
                        detail: loop ? "symlink chain loops back on itself" : `broken symlink: ${describeError(error)}`
                    });
                    continue;
                }
                if (kind === "directory") {
                    if (!isExcludedDirectory(entry.name, relativePath, absolutePath, rules, repository))
                        deferredSymlinkedDirectories.push({absolutePath, relativePath, rules, repository, ancestorRealPaths: [...directory.ancestorRealPaths, directory.realPath]});
                    continue;
                }
            }
            if (kind === "directory") {
                if (isExcludedDirectory(entry.name, relativePath, absolutePath, rules, repository))
                    continue;
                const realPath = joinAbsolute(directory.realPath, entry.name);
                if (visitedRealPaths.has(realPath)) {
                    // Only possible below a symlinked folder that leads back into the workspace.
                    result.skipped.push({displayPath: display(relativePath, true), reason: "symlink-loop", detail: `folder already indexed (${realPath})`});
                    continue;
                }
                visitedRealPaths.add(realPath);
                subdirectoryWalks.push(walk({absolutePath, relativePath, realPath, rules: rulesBelow(rules, relativePath), repository, ancestorRealPaths: [...directory.ancestorRealPaths, directory.realPath]}));
                continue;
            }
            options.onFileSeen();
            if (kind !== "file") {
                result.skipped.push({displayPath: display(relativePath, false), reason: "unreadable", detail: "not a regular file (a FIFO, socket or device)"});
                continue;
            }
            const exclusion = fileExclusion(entry.name, relativePath, absolutePath, rules);
            if (exclusion !== undefined) {
                result.skipped.push({displayPath: display(relativePath, false), ...exclusion});
                continue;
            }
            result.candidates.push({
                folderName: options.folderName,
                name: entry.name,
                absolutePath,
                relativePath,
                displayPath: display(relativePath, false),
                repository,
                repositoryPath: repository === undefined ? undefined : toRepositoryPath(repository, relativePath),
                lastChangedMs: 0,
                uncommitted: false,
                // Present from the start: a property added later would change the object's shape
                // (hidden class) for tens of thousands of candidates.
                statSizeBytes: undefined
            });
        }
        await Promise.all(subdirectoryWalks);
    };

    const isExcludedDirectory = (name: string, relativePath: string, absolutePath: string, rules: IgnoreRuleStack, repository: RepositoryContext | undefined): boolean => {
        const exclusion = directoryExclusion(name, relativePath, absolutePath, rules, repository);
        if (exclusion !== undefined)
            result.skipped.push({displayPath: display(relativePath, true), ...exclusion});
        return exclusion !== undefined;
    };

    const directoryExclusion = (name: string, relativePath: string, absolutePath: string, rules: IgnoreRuleStack, repository: RepositoryContext | undefined): Omit<SkippedFile, "displayPath"> | undefined => {
        if (options.useDefaultExcludes && defaultExclusions.versionControlFolderNames.has(name))
            return {reason: "default-excluded", detail: "version-control folder"};
        const excludedBy = options.filesExclude.findIndex((matches) => matches(relativePath, absolutePath));
        if (excludedBy !== -1)
            return {reason: "ignored", detail: `files.exclude pattern #${excludedBy + 1}`};
        const verdict = rules.test(relativePath, true);
        if (verdict?.ignored === true)
            return {reason: "ignored", detail: verdict.reason};
        // An explicit "!folder/" in an ignore file brings a default-excluded folder back.
        if (verdict === undefined && options.useDefaultExcludes) {
            const why = defaultExclusions.findDefaultFolderExclusion(name, repository !== undefined);
            if (why !== undefined)
                return {reason: "default-excluded", detail: why};
        }
        return undefined;
    };

    const fileExclusion = (name: string, relativePath: string, absolutePath: string, rules: IgnoreRuleStack): Omit<SkippedFile, "displayPath"> | undefined => {
        // A ".git" file is a worktree's or submodule's pointer to its repository.
        if (options.useDefaultExcludes && defaultExclusions.versionControlFolderNames.has(name))
            return {reason: "default-excluded", detail: "version-control metadata"};
        const excludedBy = options.filesExclude.findIndex((matches) => matches(relativePath, absolutePath));
        if (excludedBy !== -1)
            return {reason: "ignored", detail: `files.exclude pattern #${excludedBy + 1}`};
        const verdict = rules.test(relativePath, false);
        if (verdict?.ignored === true)
            return {reason: "ignored", detail: verdict.reason};
        if (verdict === undefined && options.useDefaultExcludes) {
            const why = defaultExclusions.findDefaultFileExclusion(name);
            if (why !== undefined)
                return {reason: "default-excluded", detail: why};
        }
        return undefined;
    };

    const addIgnoreFileSource = async (absolutePath: string, relativePath: string, sources: IgnoreRuleSource[]): Promise<void> => {
        const bytes = await readSmallTextFile(fileSystem, absolutePath, maxIgnoreFileBytes);
        if (bytes === undefined)
            return; // an unreadable ignore file is reported as an unreadable file by the walk itself
        sources.push(IgnoreRuleStack.createSource(relativePath, bytes.toString("utf8"), options.ignoreCase));
        result.ignoreFiles.push({displayPath: options.displayPrefix + relativePath, contentHash: sha256(bytes)});
    };

    const display = (relativePath: string, isDirectory: boolean): string =>
        options.displayPrefix + relativePath + (isDirectory ? "/" : "");

    await walk({absolutePath: options.folderPath, relativePath: "", realPath: rootRealPath, rules: rootRules, repository: options.repository, ancestorRealPaths: []});

    while (deferredSymlinkedDirectories.length > 0) {
        const linked = deferredSymlinkedDirectories.shift()!;
        let realPath: string;
        try {
            realPath = await fileSystem.realPath(linked.absolutePath);
        } catch (error) {
            result.skipped.push({displayPath: display(linked.relativePath, true), reason: "unreadable", detail: `symlink could not be resolved: ${describeError(error)}`});
            continue;
        }
        // A link to a folder that contains one of its own ancestors leads back into itself.
        if (linked.ancestorRealPaths.some((ancestor) => isSameOrInside(ancestor, realPath))) {
            result.skipped.push({displayPath: display(linked.relativePath, true), reason: "symlink-loop", detail: `symlink loops back to ${realPath}`});
            continue;
        }
        if (visitedRealPaths.has(realPath)) {
            result.skipped.push({displayPath: display(linked.relativePath, true), reason: "symlink-loop", detail: `symlink to a folder that is already indexed (${realPath})`});
            continue;
        }
        visitedRealPaths.add(realPath);
        await walk({absolutePath: linked.absolutePath, relativePath: linked.relativePath, realPath, rules: rulesBelow(linked.rules, linked.relativePath), repository: linked.repository, ancestorRealPaths: linked.ancestorRealPaths});
    }
    return result;
}

async function readAncestorRules(options: EnumerateWorkspaceFolderOptions, repository: RepositoryContext, ignoreFiles: IgnoreFileRecord[]): Promise<IgnoreRuleStack> {
    // repositoryPrefix "a/b/" means the folder is <top>/a/b: the levels are <top> and <top>/a.
    const segments = repository.repositoryPrefix.split("/").filter((segment) => segment !== "");
    let stack = IgnoreRuleStack.empty();
    for (let depth = 0; depth < segments.length; depth++) {
        const directory = path.join(repository.topLevel, ...segments.slice(0, depth));
        const pathPrefix = segments.slice(depth).join("/") + "/";
        const upward = "../".repeat(segments.length - depth);
        const sources: IgnoreRuleSource[] = [];
        const candidates = depth === 0 ? [".git/info/exclude", ...ignoreFileNames] : [...ignoreFileNames];
        for (const fileName of candidates) {
            const bytes = await readSmallTextFile(options.fileSystem, path.join(directory, fileName), maxIgnoreFileBytes);
            if (bytes === undefined)
                continue;
            sources.push(IgnoreRuleStack.createSource(upward + fileName, bytes.toString("utf8"), options.ignoreCase));
            ignoreFiles.push({displayPath: options.displayPrefix + upward + fileName, contentHash: sha256(bytes)});
        }
        stack = stack.push("", pathPrefix, sources);
    }
    return stack;
}

/** Runs at most `limit` of the given tasks at a time. */
function createConcurrencyLimit(limit: number): {run<T>(task: () => Promise<T>): Promise<T>} {
    let running = 0;
    const waiting: Array<() => void> = [];
    return {
        run: async <T>(task: () => Promise<T>): Promise<T> => {
            if (running >= limit)
                await new Promise<void>((resolve) => waiting.push(resolve));
            running++;
            try {
                return await task();
            } finally {
                running--;
                waiting.shift()?.();
            }
        }
    };
}

/** The rules for the inside of a folder that is being walked. */
function rulesBelow(rules: IgnoreRuleStack, relativePath: string): IgnoreRuleStack {
    return rules.test(relativePath, true)?.ignored === false ? rules.withoutLevelsExcludingFolder(relativePath) : rules;
}

// Read once: path.sep through the namespace import is a getter call, and this runs for every entry.
const pathSeparator = path.sep;

/** path.join for a normalized absolute folder path and one entry name, without re-normalizing (the walk calls it for every entry). */
function joinAbsolute(folder: string, name: string): string {
    return withTrailingSeparator(folder) + name;
}

function withTrailingSeparator(folder: string): string {
    return folder.endsWith(pathSeparator) ? folder : folder + pathSeparator;
}

function joinRelative(directory: string, name: string): string {
    return directory === "" ? name : `${directory}/${name}`;
}

function toRepositoryPath(repository: RepositoryContext, relativePath: string): string {
    const below = repository.folderRelativeRoot === "" ? relativePath : relativePath.slice(repository.folderRelativeRoot.length + 1);
    return repository.repositoryPrefix + below;
}

function isSameOrInside(candidate: string, container: string): boolean {
    return candidate === container || candidate.startsWith(container.endsWith(path.sep) ? container : container + path.sep);
}

function sha256(data: string | Uint8Array): string {
    return createHash("sha256").update(data).digest("hex");
}

function errorCode(error: unknown): string | undefined {
    return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

function describeError(error: unknown): string {
    const code = errorCode(error);
    const message = error instanceof Error ? error.message : String(error);
    return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}
