import {mkdir, mkdtemp, rm} from "node:fs/promises";
import path from "node:path";

/**
 * A short-lived folder that isolates one editor session: HOME, XDG_*, TMPDIR, code-server's user
 * data and extensions, the browser profile, the workspace copy and the extension's log. It lives
 * under /tmp with a short name because code-server's Unix sockets go under TMPDIR/XDG_RUNTIME_DIR
 * and socket paths are limited to about 107 characters.
 */
export class IsolatedScratch {
    private constructor(public readonly root: string) {}

    public static async create(): Promise<IsolatedScratch> {
        const scratch = new IsolatedScratch(await mkdtemp("/tmp/kvd-"));
        for (const folder of [scratch.home, scratch.configHome, scratch.dataHome, scratch.cacheHome, scratch.stateHome, scratch.runtimeDir, scratch.tmpDir, scratch.userDataDir, scratch.extensionsDir, scratch.browserProfileDir])
            await mkdir(folder, {recursive: true, mode: 0o700});
        return scratch;
    }

    public get home(): string { return path.join(this.root, "home"); }
    public get configHome(): string { return path.join(this.root, "xdg", "config"); }
    public get dataHome(): string { return path.join(this.root, "xdg", "data"); }
    public get cacheHome(): string { return path.join(this.root, "xdg", "cache"); }
    public get stateHome(): string { return path.join(this.root, "xdg", "state"); }
    public get runtimeDir(): string { return path.join(this.root, "xdg", "run"); }
    public get tmpDir(): string { return path.join(this.root, "tmp"); }
    public get userDataDir(): string { return path.join(this.root, "user-data"); }
    public get extensionsDir(): string { return path.join(this.root, "extensions"); }
    public get browserProfileDir(): string { return path.join(this.root, "browser"); }
    public get workspaceDir(): string { return path.join(this.root, "workspace"); }
    public get extensionLogFile(): string { return path.join(this.root, "kv-distill.log"); }
    public get codeServerLogFile(): string { return path.join(this.root, "code-server.log"); }

    /**
     * The environment for every process of the session: the caller's, minus what would leak the
     * test runner into the editor, with every per-user location pointed into the scratch folder.
     */
    public environment(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
        const env: NodeJS.ProcessEnv = {};
        for (const [name, value] of Object.entries(process.env))
            if (!name.startsWith("npm_") && !name.startsWith("NODE_TEST") && name !== "NODE_OPTIONS" && name !== "NODE_CHANNEL_FD" && !name.startsWith("VSCODE_"))
                env[name] = value;
        return {
            ...env,
            HOME: this.home,
            XDG_CONFIG_HOME: this.configHome,
            XDG_DATA_HOME: this.dataHome,
            XDG_CACHE_HOME: this.cacheHome,
            XDG_STATE_HOME: this.stateHome,
            XDG_RUNTIME_DIR: this.runtimeDir,
            TMPDIR: this.tmpDir,
            ...extra
        };
    }

    public async remove(): Promise<void> {
        await rm(this.root, {recursive: true, force: true, maxRetries: 3});
    }
}
