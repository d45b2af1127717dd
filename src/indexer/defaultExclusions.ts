// What the indexer leaves out even when no ignore file says so: version-control metadata,
// installed dependencies, build caches and generated files, none of which the user wrote and all
// of which would crowd their own code out of the context window.
//
// Only names that are almost never hand-written source are on the unconditional lists. The
// common but ambiguous output names (dist, build, out, target) are excluded only outside a git
// repository: inside one, the repository's .gitignore is the authority on what is build output
// (VS Code's own repository keeps hand-written scripts in build/, for example).

/** Version-control metadata folders. */
const versionControlFolderNames: ReadonlySet<string> = new Set([".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", ".jj", ".sl"]);

/** Installed dependencies and tool caches. */
const dependencyAndCacheFolderNames: ReadonlySet<string> = new Set([
    "node_modules", "bower_components", "jspm_packages", ".pnpm-store", ".yarn", ".venv", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".gradle", ".m2", ".dart_tool", ".pub-cache", ".terraform",
    ".next", ".nuxt", ".svelte-kit", ".turbo", ".parcel-cache", ".angular", ".expo", ".vercel", ".serverless",
    ".eggs", ".cargo", ".stack-work", ".cabal-sandbox", "elm-stuff", ".bundle", ".cache", ".kv-distill"
]);

/** Build-output folder names, excluded only outside git (see above). */
const buildOutputFolderNamesOutsideGit: ReadonlySet<string> = new Set(["dist", "build", "out", "target", "obj"]);

/** Generated files: lockfiles and minified bundles are large, machine-written and rarely worth tokens. */
const generatedFileNames: ReadonlySet<string> = new Set([
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock", "Cargo.lock",
    "poetry.lock", "Pipfile.lock", "uv.lock", "composer.lock", "Gemfile.lock", "go.sum", "flake.lock", "packages.lock.json"
]);

const generatedFileSuffixes: readonly string[] = [".min.js", ".min.mjs", ".min.css", ".js.map", ".mjs.map", ".cjs.map", ".css.map", ".d.ts.map"];

/** Marker files that make a whole folder a cache or a virtual environment, whatever its name. */
const folderMarkerFileNames: ReadonlySet<string> = new Set(["CACHEDIR.TAG", "pyvenv.cfg"]);

/** Why a folder named `name` is excluded by default, or undefined. */
function findDefaultFolderExclusion(name: string, insideGitRepository: boolean): string | undefined {
    if (versionControlFolderNames.has(name))
        return "version-control folder";
    if (dependencyAndCacheFolderNames.has(name))
        return "dependency or cache folder";
    if (name.endsWith(".egg-info"))
        return "dependency or cache folder";
    if (!insideGitRepository && buildOutputFolderNamesOutsideGit.has(name))
        return "build-output folder (outside git)";
    return undefined;
}

/** Why a folder whose entries include `entryNames` is excluded by default (a cache tag or a virtual environment), or undefined. */
function findDefaultFolderExclusionByContents(entryNames: readonly string[]): string | undefined {
    for (const name of entryNames)
        if (folderMarkerFileNames.has(name))
            return name === "pyvenv.cfg" ? "Python virtual environment (pyvenv.cfg)" : "cache folder (CACHEDIR.TAG)";
    return undefined;
}

/** Why a file named `name` is excluded by default, or undefined. */
function findDefaultFileExclusion(name: string): string | undefined {
    if (generatedFileNames.has(name))
        return "lockfile (generated)";
    for (const suffix of generatedFileSuffixes)
        if (name.endsWith(suffix))
            return suffix.endsWith(".map") ? "source map (generated)" : "minified file (generated)";
    return undefined;
}

export const defaultExclusions = {
    versionControlFolderNames,
    dependencyAndCacheFolderNames,
    buildOutputFolderNamesOutsideGit,
    generatedFileNames,
    generatedFileSuffixes,
    folderMarkerFileNames,
    findDefaultFolderExclusion,
    findDefaultFolderExclusionByContents,
    findDefaultFileExclusion
} as const;
