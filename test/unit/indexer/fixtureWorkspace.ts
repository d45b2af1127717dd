// Builds throw-away workspaces in the temp folder for the indexer's tests, and checks that the
// indexer left them byte-identical.
import {createHash} from "node:crypto";
import {execFileSync} from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export type FixtureFiles = Record<string, string | Buffer>;

export function createTemporaryFolder(prefix = "kvd-index-"): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function writeFixtureFiles(root: string, files: FixtureFiles): void {
    for (const [relativePath, content] of Object.entries(files)) {
        const target = path.join(root, relativePath);
        fs.mkdirSync(path.dirname(target), {recursive: true});
        fs.writeFileSync(target, content);
    }
}

export function createFixtureWorkspace(files: FixtureFiles): string {
    const root = createTemporaryFolder();
    writeFixtureFiles(root, files);
    return root;
}

export function removeFixture(root: string): void {
    fs.rmSync(root, {recursive: true, force: true});
}

/** Every entry below root with a hash of its content (files), its target (links) or its kind. */
export function snapshotTree(root: string): Map<string, string> {
    const snapshot = new Map<string, string>();
    const visit = (directory: string): void => {
        for (const entry of fs.readdirSync(directory, {withFileTypes: true})) {
            const absolute = path.join(directory, entry.name);
            const relative = path.relative(root, absolute);
            if (entry.isSymbolicLink())
                snapshot.set(relative, `link:${fs.readlinkSync(absolute)}`);
            else if (entry.isDirectory()) {
                snapshot.set(relative, "dir");
                visit(absolute);
            } else if (entry.isFile())
                snapshot.set(relative, `file:${createHash("sha256").update(fs.readFileSync(absolute)).digest("hex")}:${fs.statSync(absolute).mtimeMs}`);
            else
                snapshot.set(relative, "special");
        }
    };
    visit(root);
    return snapshot;
}

/** Runs git in `cwd` with a fixed identity; `isoDate` sets both author and committer dates. */
export function git(cwd: string, args: readonly string[], isoDate?: string): string {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        GIT_AUTHOR_NAME: "Fixture", GIT_AUTHOR_EMAIL: "fixture@example.invalid",
        GIT_COMMITTER_NAME: "Fixture", GIT_COMMITTER_EMAIL: "fixture@example.invalid",
        GIT_CONFIG_NOSYSTEM: "1"
    };
    if (isoDate !== undefined) {
        env.GIT_AUTHOR_DATE = isoDate;
        env.GIT_COMMITTER_DATE = isoDate;
    }
    return execFileSync("git", args, {cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"]});
}

export function initGitRepository(root: string): void {
    git(root, ["init", "-q", "-b", "main"]);
    git(root, ["config", "user.name", "Fixture"]);
    git(root, ["config", "user.email", "fixture@example.invalid"]);
    git(root, ["config", "commit.gpgsign", "false"]);
}

/** Adds the given paths and commits them at `isoDate`. */
export function commitAt(root: string, paths: readonly string[], isoDate: string, message = `commit at ${isoDate}`): void {
    git(root, ["add", "--", ...paths]);
    git(root, ["commit", "-q", "-m", message], isoDate);
}
