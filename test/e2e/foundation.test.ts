import {strict as assert} from "node:assert";
import {after, before, describe, it} from "node:test";
import {EditorSession} from "./harness/EditorSession";

// The packaged VSIX in a real VS Code (code-server): it activates, its view renders the version and
// the llama.cpp backend it found (node-llama-cpp loaded from the installed extension), and
// "KV-Distill: Show Log" shows the log channel.
describe("installed VSIX in code-server", {timeout: 240_000}, () => {
    let session: EditorSession;

    before(async () => {
        session = await EditorSession.start({name: "foundation", fixture: "smallWorkspace"});
    });

    after(async () => {
        await session?.close();
    });

    it("activates when its activity-bar view is opened", async () => {
        await session.openViewContainer("KV-Distill");
        const line = await session.waitForLogLine(/KV-Distill \S+ activated/);
        assert.match(line, /\[info\] KV-Distill 0\.1\.0 activated \(VS Code 1\.139\.\d+, linux-x64, Node 24\./);
    });

    it("shows the version and the llama.cpp backend it found in the overview view", async () => {
        const frame = await session.webviewFrameContaining('[data-testid="extension-version"]', 90_000);
        await assert.doesNotReject(frame.locator('[data-testid="extension-version"]', {hasText: "Version 0.1.0"}).waitFor({timeout: 60_000}));
        const backend = frame.locator('[data-testid="backend"][data-state="found"]');
        await backend.waitFor({timeout: 90_000}).catch(async (error: unknown) => {
            await session.screenshot("backend-not-found");
            throw error;
        });
        assert.match(await backend.innerText(), /^Backend: llama\.cpp \S+ \(\S+ build, CPU\) via node-llama-cpp 3\.22\.1$/);
        await session.waitForLogLine(/\[info\] Backend found: llama\.cpp/);
        await session.screenshot("overview");
    });

    it('opens the log with "KV-Distill: Show Log" from the command palette', async () => {
        await session.runCommand("KV-Distill: Show Log");
        const activatedLine = await session.waitForLogLine(/KV-Distill \S+ activated/);
        const message = activatedLine.replace(/^\S+ \[info\] /, "");
        const panel = session.page.locator(".part.panel");
        await panel.locator(".monaco-editor .view-line", {hasText: "activated"}).first().waitFor({timeout: 30_000});
        const channel = await panel.locator("select.monaco-select-box").first().evaluate((select: HTMLSelectElement) => select.selectedOptions[0]?.text ?? "");
        assert.equal(channel, "KV-Distill", "the Output panel shows the KV-Distill channel");
        // Word-wrap may split a line: compare with whitespace collapsed.
        const text = (await session.readOutputPanelText()).replace(/\s+/g, " ");
        assert.ok(text.includes(message.replace(/\s+/g, " ")), `the Output panel shows "${message}"; it shows:\n${text}`);
        assert.match(text, /\[info\] Backend found: llama\.cpp/);
        await session.screenshot("show-log");
    });

    it("leaves the workspace's files byte-identical", async () => {
        await session.assertWorkspaceUnchanged();
    });
});
