import {strict as assert} from "node:assert";
import {copyFile, cp, mkdir, writeFile} from "node:fs/promises";
import path from "node:path";
import {chromium, type BrowserContext, type FrameLocator, type Page} from "playwright-core";
import {CodeServerProcess} from "./CodeServerProcess";
import {findE2eTools, repositoryRoot, type E2eTools} from "./findE2eTools";
import {findWebviewFrame, findWebviewFrameContaining} from "./findWebviewFrame";
import {IsolatedScratch} from "./IsolatedScratch";
import {openViewContainer} from "./openViewContainer";
import {readOutputPanelText} from "./readOutputPanelText";
import {runCommandFromPalette} from "./runCommandFromPalette";
import {snapshotFiles} from "./snapshotFiles";
import {readLogLines, waitForLogLine} from "./waitForLogLine";

/** The extension under test, as VS Code names it (publisher.name). */
export const extensionId = "kv-distill.kv-distill";

/** Where screenshots and copies of the logs go (git-ignored). */
export const artifactsDir = path.join(repositoryRoot, "artifacts", "e2e");

const chromiumArguments = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"
];

/** Settings that keep screenshots calm and the run offline; a session can override them. */
export const defaultUserSettings: Readonly<Record<string, unknown>> = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false
};

export type EditorSessionOptions = {
    /** Names the session's screenshots and log copies in artifacts/e2e/. */
    name: string;
    /** A folder under test/e2e/fixtures/ that is copied and opened as the workspace. */
    fixture: string;
    /** Extra environment variables for code-server; they reach the extension host. */
    env?: Readonly<Record<string, string>>;
    /** Install the packaged VSIX (default true); false for a session that loads the extension another way. */
    installVsix?: boolean;
    /** Extra code-server arguments. */
    codeServerArguments?: readonly string[];
    /** Query string parameters added to the workbench URL (after `folder`); gets the running server. */
    workbenchQuery?: (server: CodeServerProcess) => Readonly<Record<string, string>>;
    /** User settings written before start, over `defaultUserSettings`. */
    userSettings?: Readonly<Record<string, unknown>>;
    /**
     * Settings of the machine code-server runs on (user-data/Machine/settings.json). A code-server
     * window is a remote window, where `machine` and `machine-overridable` settings (such as
     * kvDistill.model.path) are taken from here; their user values did not reliably reach the
     * extension host.
     */
    machineSettings?: Readonly<Record<string, unknown>>;
    /** Called with the page before the workbench loads (e.g. to expose functions). */
    beforeOpen?: (page: Page) => Promise<void>;
};

/**
 * One real editor: the packaged VSIX installed into an isolated code-server that has a copy of a
 * fixture workspace open in headless Chromium. The extension's log is mirrored to `logFile`.
 * Always `close()` it (in an `after` hook): that stops every process even when a test failed.
 */
export class EditorSession {
    private screenshotCount = 0;
    private closed = false;

    private constructor(
        public readonly name: string,
        public readonly tools: E2eTools,
        public readonly scratch: IsolatedScratch,
        public readonly server: CodeServerProcess,
        public readonly browser: BrowserContext,
        public readonly page: Page,
        private readonly fixtureSnapshot: Map<string, string>
    ) {}

    public get workspaceDir(): string {
        return this.scratch.workspaceDir;
    }

    /** The extension's log, mirrored to a file through KV_DISTILL_LOG_FILE. */
    public get logFile(): string {
        return this.scratch.extensionLogFile;
    }

    public static async start(options: EditorSessionOptions): Promise<EditorSession> {
        const installVsix = options.installVsix ?? true;
        const tools = findE2eTools({requireVsix: installVsix});
        const scratch = await IsolatedScratch.create();
        let server: CodeServerProcess | undefined;
        let browser: BrowserContext | undefined;
        try {
            const fixtureDir = path.join(repositoryRoot, "test", "e2e", "fixtures", options.fixture);
            const fixtureSnapshot = await snapshotFiles(fixtureDir);
            await cp(fixtureDir, scratch.workspaceDir, {recursive: true});
            await mkdir(path.join(scratch.userDataDir, "User"), {recursive: true});
            await writeFile(path.join(scratch.userDataDir, "User", "settings.json"), JSON.stringify({...defaultUserSettings, ...options.userSettings}, null, 4));
            if (options.machineSettings !== undefined) {
                await mkdir(path.join(scratch.userDataDir, "Machine"), {recursive: true});
                await writeFile(path.join(scratch.userDataDir, "Machine", "settings.json"), JSON.stringify(options.machineSettings, null, 4));
            }
            if (installVsix)
                await CodeServerProcess.installExtension(tools, scratch, tools.vsix);
            server = await CodeServerProcess.start({
                tools,
                scratch,
                workspaceDir: scratch.workspaceDir,
                env: {KV_DISTILL_LOG_FILE: scratch.extensionLogFile, ...options.env},
                extraArguments: options.codeServerArguments ?? []
            });
            browser = await chromium.launchPersistentContext(scratch.browserProfileDir, {
                executablePath: tools.chromium,
                headless: true,
                args: chromiumArguments,
                viewport: {width: 1400, height: 900},
                env: scratch.environment()
            });
            const page = browser.pages()[0] ?? (await browser.newPage());
            page.setDefaultTimeout(30_000);
            await options.beforeOpen?.(page);
            const query = new URLSearchParams({folder: scratch.workspaceDir, ...options.workbenchQuery?.(server)});
            await page.goto(`${server.url}?${query.toString()}`, {timeout: 60_000});
            await page.locator(".monaco-workbench .part.activitybar").waitFor({state: "visible", timeout: 60_000});
            return new EditorSession(options.name, tools, scratch, server, browser, page, fixtureSnapshot);
        } catch (error) {
            await browser?.close().catch(() => undefined);
            await server?.stop();
            await copyLogs(options.name, scratch);
            await scratch.remove();
            throw error;
        }
    }

    /** Saves a screenshot of the whole page to artifacts/e2e/ and returns its path. */
    public async screenshot(label: string): Promise<string> {
        await mkdir(artifactsDir, {recursive: true});
        this.screenshotCount++;
        const file = path.join(artifactsDir, `${this.name}-${String(this.screenshotCount).padStart(2, "0")}-${label}.png`);
        await this.page.screenshot({path: file});
        console.log(`screenshot: ${path.relative(process.cwd(), file)}`);
        return file;
    }

    public async openViewContainer(title: string): Promise<void> {
        await openViewContainer(this.page, title);
    }

    public async runCommand(commandTitle: string): Promise<void> {
        await runCommandFromPalette(this.page, commandTitle);
    }

    public webviewFrame(title?: string): FrameLocator {
        return findWebviewFrame(this.page, extensionId, title);
    }

    /** The extension's webview that shows `selector` (several views of one extension look alike from outside). */
    public async webviewFrameContaining(selector: string, timeoutMs?: number): Promise<FrameLocator> {
        return findWebviewFrameContaining(this.page, extensionId, selector, timeoutMs);
    }

    /** The first log line matching `pattern`, after the first `fromLine` lines (see `logLineCount`). */
    public async waitForLogLine(pattern: RegExp, timeoutMs?: number, fromLine?: number): Promise<string> {
        return waitForLogLine(this.logFile, pattern, timeoutMs, fromLine);
    }

    /** How many lines the extension has logged so far: a mark for `waitForLogLine`'s `fromLine`. */
    public async logLineCount(): Promise<number> {
        return (await readLogLines(this.logFile)).length;
    }

    public async readOutputPanelText(): Promise<string> {
        return readOutputPanelText(this.page);
    }

    /** Asserts that the workspace copy still has exactly the fixture's files, byte for byte. */
    public async assertWorkspaceUnchanged(): Promise<void> {
        assert.deepEqual(await snapshotFiles(this.workspaceDir), this.fixtureSnapshot, "the workspace's files changed");
    }

    /** Closes the browser, stops code-server's process group, keeps the logs, removes the scratch folder. */
    public async close(): Promise<void> {
        if (this.closed)
            return;
        this.closed = true;
        try {
            await this.browser.close().catch(() => undefined);
        } finally {
            await this.server.stop();
            await copyLogs(this.name, this.scratch);
            await this.scratch.remove();
            if (this.screenshotCount > 0)
                console.log(`screenshots and logs of "${this.name}": ${path.relative(process.cwd(), artifactsDir)}/${this.name}-*`);
        }
    }
}

/** Keeps code-server's and the extension's logs next to the screenshots for people to read. */
async function copyLogs(name: string, scratch: IsolatedScratch): Promise<void> {
    await mkdir(artifactsDir, {recursive: true});
    for (const [file, suffix] of [[scratch.codeServerLogFile, "code-server.log"], [scratch.extensionLogFile, "kv-distill.log"]] as const)
        await copyFile(file, path.join(artifactsDir, `${name}-${suffix}`)).catch(() => undefined);
}
