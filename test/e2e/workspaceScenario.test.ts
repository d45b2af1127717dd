import {strict as assert} from "node:assert";
import {readFile, utimes} from "node:fs/promises";
import path from "node:path";
import {after, before, describe, it} from "node:test";
import type {FrameLocator, Locator} from "playwright-core";
import {ensureScriptedAnswerModel, scriptedWorkspaceAnswer} from "../fixtures/scriptedAnswerModel";
import {EditorSession} from "./harness/EditorSession";
import {snapshotFiles} from "./harness/snapshotFiles";

// The editor experience end to end, in code-server with the packaged VSIX and a real model run by
// the real engine on CPU: the SCRIPTED fixture model (test/fixtures/scriptedAnswerModel.ts), whose
// greedy answer to every question is `scriptedWorkspaceAnswer`, naming src/greeting.ts:2 of the
// smallWorkspace fixture. Each step asserts on the page and on the extension's log and saves a
// screenshot to artifacts/e2e/workspace-scenario-*.png.
const question = "Where is the greeting built?";
const editedFile = "src/greeting.ts";
const appendedText = "// edited by the end-to-end test\n";

type ChatRecording = {progress: string[]; deltas: string[]; renderedAnswers: string[]; buttonsOutsideView: string[]};

describe("the workspace scenario in code-server with the scripted model", {timeout: 600_000}, () => {
    let session: EditorSession;
    let chat: FrameLocator;
    let originalEditedFile: Buffer;

    before(async () => {
        const modelPath = await ensureScriptedAnswerModel();
        session = await EditorSession.start({
            name: "workspace-scenario",
            fixture: "smallWorkspace",
            // Segments of 128 tokens (the default is 4096): the small workspace then makes several,
            // and the refresh after an edit re-processes only the changed one and those after it.
            userSettings: {"kvDistill.distill.segmentTokens": 128},
            machineSettings: {"kvDistill.model.path": modelPath}
        });
        originalEditedFile = await readFile(path.join(session.workspaceDir, editedFile));
        // Outside git the prompt orders files by modification time, most recent last (where edits
        // invalidate the least). The copy's times are the copying order's; make the file this
        // scenario edits the most recent, as the file a person is working on would be, so that the
        // refresh re-processes only the last segment. Times only: the bytes stay the fixture's.
        const longAgo = new Date("2025-01-01T00:00:00Z");
        for (const relativePath of (await snapshotFiles(session.workspaceDir)).keys())
            await utimes(path.join(session.workspaceDir, relativePath), longAgo, relativePath === editedFile ? new Date("2025-01-02T00:00:00Z") : longAgo);
    });

    after(async () => {
        await session?.close();
    });

    const statusBarItem = (): Locator => session.page.locator('.part.statusbar .statusbar-item[id$="kvDistill.status"]');
    const chatLocator = (testId: string): Locator => chat.locator(`[data-testid="${testId}"]`);

    /** Starts recording what the chat webview shows and receives (progress, streamed deltas, rendered answer text). */
    async function recordChat(): Promise<void> {
        await chatLocator("chat-messages").evaluate(() => {
            const recording: ChatRecording = {progress: [], deltas: [], renderedAnswers: [], buttonsOutsideView: []};
            (window as unknown as {e2eRecording: ChatRecording}).e2eRecording = recording;
            const push = (list: string[], value: string) => {
                if (list[list.length - 1] !== value)
                    list.push(value);
            };
            const row = document.querySelector<HTMLElement>('[data-testid="chat-progress-row"]')!;
            new MutationObserver(() => {
                if (row.hidden)
                    return;
                push(recording.progress, `${row.dataset.operation ?? ""}/${row.dataset.phase ?? ""}: ${row.textContent ?? ""}`);
                const cancel = row.querySelector<HTMLElement>('[data-testid="chat-cancel"]');
                if (cancel !== null && !cancel.hidden && cancel.getBoundingClientRect().right > document.documentElement.clientWidth)
                    push(recording.buttonsOutsideView, `cancel beside "${row.textContent ?? ""}"`);
            }).observe(row, {attributes: true, childList: true, subtree: true, characterData: true});
            window.addEventListener("message", (event: MessageEvent<{type?: string; text?: string}>) => {
                if (event.data?.type === "answerDelta")
                    recording.deltas.push(String(event.data.text));
            });
            const messages = document.querySelector('[data-testid="chat-messages"]')!;
            new MutationObserver(() => {
                const bodies = messages.querySelectorAll('[data-testid="chat-answer-body"]');
                const last = bodies[bodies.length - 1];
                if (last !== undefined)
                    push(recording.renderedAnswers, `${bodies.length}:${last.textContent ?? ""}`);
            }).observe(messages, {childList: true, subtree: true, characterData: true});
        });
    }

    async function readChatRecording(): Promise<ChatRecording> {
        return chatLocator("chat-messages").evaluate(() => (window as unknown as {e2eRecording: ChatRecording}).e2eRecording);
    }

    /** Starts recording the status bar item's texts in the workbench page. */
    async function recordStatusBar(): Promise<void> {
        await session.page.evaluate(() => {
            const texts: string[] = [];
            (window as unknown as {e2eStatusBarTexts: string[]}).e2eStatusBarTexts = texts;
            const record = () => {
                const text = document.querySelector('.part.statusbar .statusbar-item[id$="kvDistill.status"]')?.textContent?.trim() ?? "";
                if (text !== "" && texts[texts.length - 1] !== text)
                    texts.push(text);
            };
            record();
            new MutationObserver(record).observe(document.querySelector(".part.statusbar")!, {attributes: true, childList: true, subtree: true, characterData: true});
        });
    }

    async function readStatusBarTexts(): Promise<string[]> {
        return session.page.evaluate(() => (window as unknown as {e2eStatusBarTexts: string[]}).e2eStatusBarTexts.slice());
    }

    it("opens the fixture workspace with the chat panel, the model configured and no cache yet", async () => {
        await session.openViewContainer("KV-Distill");
        await session.waitForLogLine(/\[info\] KV-Distill 0\.1\.0 activated/);
        const settingsLine = await session.waitForLogLine(/\[info\] Settings: model /);
        assert.match(settingsLine, /kv-distill-scripted-answer-\w+\.gguf \(from user settings\), keep 0\.2, scorer surprisal/);
        chat = await session.webviewFrameContaining('[data-testid="chat-input"]', 90_000);
        await chat.locator('[data-testid="chat-model"][data-configured="true"]').waitFor({timeout: 30_000});
        await chat.locator('[data-testid="chat-cache-state"][data-state="none"]').waitFor({timeout: 60_000});
        await session.waitForLogLine(/\[info\] No saved cache for this workspace/);
        await statusBarItem().waitFor({state: "visible"});
        assert.match(await statusBarItem().innerText(), /KV-Distill/);
        await session.screenshot("opened");
    });

    it("runs Distill Workspace: progress in the panel and the status bar, then the cache is ready", async () => {
        await recordChat();
        await recordStatusBar();
        const mark = await session.logLineCount();
        await session.runCommand("KV-Distill: Distill Workspace");
        await session.waitForLogLine(/\[info\] Distill started \(command\): 1 folders, keep 0\.2, scorer surprisal, segment 128 tokens/, 30_000, mark);
        await chatLocator("chat-progress-row").waitFor({state: "visible", timeout: 30_000}).catch(() => undefined);
        await session.screenshot("distilling");
        const finished = await session.waitForLogLine(/\[info\] Distill finished: built, \d+ files, \d+\/\d+ tokens kept/, 180_000, mark);
        const [, files, kept, prompt] = /(\d+) files, (\d+)\/(\d+) tokens kept/.exec(finished)!;
        assert.equal(Number(files), 5, ".gitignore, README.md, package.json and two sources");
        assert.ok(Number(kept) < Number(prompt), `compressed: ${kept} of ${prompt} tokens kept`);

        await chat.locator('[data-testid="chat-cache-state"][data-state="ready"]', {hasText: "5 files in cache"}).waitFor({timeout: 30_000});
        await chatLocator("chat-progress-row").waitFor({state: "hidden"});
        await session.page.locator(".notifications-toasts", {hasText: `KV-Distill: 5 files in the cache, ${kept} of ${prompt} tokens kept`}).waitFor({timeout: 30_000});
        await session.page.locator('.part.statusbar .statusbar-item[id$="kvDistill.status"]', {hasText: /KV 5 files · \d+%/}).waitFor({timeout: 30_000});

        const recording = await readChatRecording();
        assert.ok(recording.progress.some((entry) => entry.startsWith("distill/")), `the panel showed distill progress: ${JSON.stringify(recording.progress)}`);
        assert.deepEqual(recording.buttonsOutsideView, [], "the cancel button stays inside the narrow view");
        const statusTexts = await readStatusBarTexts();
        assert.ok(statusTexts.some((text) => /Distilling|Indexing/.test(text)), `the status bar showed the distill: ${JSON.stringify(statusTexts)}`);
        assert.match(statusTexts[statusTexts.length - 1]!, /^KV 5 files · \d+%$/);
        await session.waitForLogLine(/\[info\] Status bar: busy \(/, 5_000, mark);
        await session.waitForLogLine(/\[info\] Status bar: ready \(/, 5_000, mark);
        await session.screenshot("distilled");
    });

    it("asks in the panel and sees the answer stream in", async () => {
        const mark = await session.logLineCount();
        await chatLocator("chat-input").fill(question);
        await chatLocator("chat-send").click();
        await session.waitForLogLine(new RegExp(`\\[info\\] Chat: question sent \\(${question.length} characters\\)`), 10_000, mark);
        const answer = chat.locator('[data-testid="chat-answer"][data-status="done"]');
        await answer.waitFor({timeout: 120_000});
        assert.equal((await answer.locator('[data-testid="chat-answer-body"]').innerText()).trim(), scriptedWorkspaceAnswer);
        const finished = await session.waitForLogLine(/\[info\] Answer finished: \d+ tokens, .* cache reused, 5 files in context/, 10_000, mark);
        const answerTokens = Number(/Answer finished: (\d+) tokens/.exec(finished)![1]);
        await session.waitForLogLine(new RegExp(`\\[info\\] Chat: answer shown \\(${scriptedWorkspaceAnswer.length} characters, 1 file links\\)`), 10_000, mark);

        const recording = await readChatRecording();
        assert.ok(recording.deltas.length >= 5, `the answer arrived in ${recording.deltas.length} pieces`);
        assert.ok(recording.deltas.length <= answerTokens + 1, `${recording.deltas.length} pieces for ${answerTokens} tokens`);
        assert.equal(recording.deltas.join(""), scriptedWorkspaceAnswer, "the streamed pieces make up the answer");
        const rendered = recording.renderedAnswers.filter((entry) => entry.startsWith("1:")).map((entry) => entry.slice(2));
        assert.ok(rendered.every((text) => scriptedWorkspaceAnswer.startsWith(text.trim()) || text.startsWith(scriptedWorkspaceAnswer)), `every rendering was a prefix of the answer: ${JSON.stringify(rendered)}`);
        assert.match(await answer.locator('[data-testid="chat-answer-context"]').innerText(), /Context: 5 files in cache, \d+% of tokens kept, 0 files excluded/);
        await session.screenshot("answered");
    });

    it("clicks the file reference in the answer and the file opens at the line", async () => {
        const mark = await session.logLineCount();
        const link = chat.locator('[data-testid="chat-answer"] [data-testid="chat-file-link"]').first();
        assert.equal(await link.innerText(), "src/greeting.ts:2");
        await link.click();
        await session.waitForLogLine(/\[info\] Opened file link src\/greeting\.ts:2$/, 15_000, mark);
        await session.page.locator(".tabs-container .tab.active", {hasText: "greeting.ts"}).waitFor({timeout: 15_000});
        await session.page.locator(".part.statusbar", {hasText: "Ln 2, Col 1"}).waitFor({timeout: 15_000});
        await session.screenshot("file-opened");
    });

    it("asks a follow-up (the suggestion under the answer) and gets a second answer with the first turn as history", async () => {
        const mark = await session.logLineCount();
        const followUp = chat.locator('[data-testid="chat-follow-up"]').first();
        const followUpText = "What does src/greeting.ts do, and which other files use it?";
        assert.equal(await followUp.innerText(), followUpText);
        await followUp.click();
        await session.waitForLogLine(new RegExp(`\\[info\\] Answer started: ${followUpText.length} characters, 2 earlier turns`), 15_000, mark);
        const answers = chat.locator('[data-testid="chat-answer"][data-status="done"]');
        await chat.locator('[data-testid="chat-answer"][data-status="done"] >> nth=1').waitFor({timeout: 120_000});
        assert.equal(await chat.locator('[data-testid="chat-question"]').count(), 2);
        assert.equal((await answers.nth(1).locator('[data-testid="chat-answer-body"]').innerText()).trim(), scriptedWorkspaceAnswer);
        await session.waitForLogLine(/\[info\] Answer finished: \d+ tokens, .* cache reused/, 10_000, mark);
        await session.screenshot("follow-up");
    });

    it("edits and saves a file: the panel and the status bar say the cache is stale", async () => {
        const mark = await session.logLineCount();
        await session.page.locator(".editor-instance .monaco-editor .view-lines").first().click();
        await session.page.keyboard.press("Control+End");
        await session.page.keyboard.insertText(appendedText);
        await session.page.keyboard.press("Control+S");
        await session.waitForLogLine(/\[info\] Cache marked stale: files-changed \(1 files\)/, 30_000, mark);
        assert.deepEqual(await readFile(path.join(session.workspaceDir, editedFile)), Buffer.concat([originalEditedFile, Buffer.from(appendedText)]), "the saved file is the original plus the typed line");
        await chatLocator("chat-stale").waitFor({state: "visible", timeout: 15_000});
        assert.match(await chatLocator("chat-stale").innerText(), /Stale: /);
        await chat.locator('[data-testid="chat-cache-state"][data-state="stale"]').waitFor({timeout: 15_000});
        await session.page.locator('.part.statusbar .statusbar-item[id$="kvDistill.status"]', {hasText: "KV stale"}).waitFor({timeout: 15_000});
        await session.waitForLogLine(/\[info\] Status bar: stale \(/, 5_000, mark);
        await session.screenshot("stale");
    });

    it("refreshes from the panel: only the changed part is re-processed and the cache is fresh again", async () => {
        const mark = await session.logLineCount();
        await chatLocator("chat-refresh").click();
        await session.waitForLogLine(/\[info\] Distill started \(command\)/, 30_000, mark);
        const finished = await session.waitForLogLine(/\[info\] Distill finished: (refreshed|built), 5 files/, 180_000, mark);
        assert.match(finished, /Distill finished: refreshed, /);
        await chatLocator("chat-stale").waitFor({state: "hidden", timeout: 15_000});
        await chat.locator('[data-testid="chat-cache-state"][data-state="ready"]').waitFor({timeout: 15_000});
        await session.page.locator('.part.statusbar .statusbar-item[id$="kvDistill.status"]', {hasText: /KV 5 files · \d+%/}).waitFor({timeout: 30_000});
        await session.screenshot("refreshed");
    });

    it("invokes @kvdistill in VS Code's native chat and sees the streamed answer with the file reference", async () => {
        const mark = await session.logLineCount();
        await session.runCommand("KV-Distill: Ask in VS Code Chat (@kvdistill)");
        const chatInput = session.page.locator(".interactive-input-part .monaco-editor").first();
        await chatInput.waitFor({state: "visible", timeout: 30_000});
        await session.screenshot("native-chat-opened");
        await chatInput.click();
        await session.page.keyboard.press("End");
        await session.page.keyboard.type(question);
        await session.page.keyboard.press("Enter");
        await session.waitForLogLine(new RegExp(`\\[info\\] Chat participant: /ask \\(${question.length} characters\\)`), 30_000, mark);
        await session.waitForLogLine(/\[info\] Chat participant: answer finished \(1 file references\)/, 120_000, mark);
        const response = session.page.locator(".interactive-item-container.interactive-response").last();
        await response.locator(".rendered-markdown", {hasText: "Context: 5 files in cache"}).first().waitFor({timeout: 30_000});
        const responseText = await response.innerText();
        assert.ok(responseText.replace(/\s+/g, " ").includes(scriptedWorkspaceAnswer), `the native chat shows the answer; it shows:\n${responseText}`);
        assert.match(responseText, /Context: 5 files in cache/);
        await session.screenshot("native-chat-answered");
    });

    it("logged no errors, and the workspace's files are byte-identical once the edit is undone", async () => {
        const log = await readFile(session.logFile, "utf8");
        assert.doesNotMatch(log, /\[error\]/, "the extension logged no error");
        await session.page.locator(".tabs-container .tab", {hasText: "greeting.ts"}).first().click();
        await session.page.locator(".editor-instance .monaco-editor .view-lines").first().click();
        // Typing made several undo stops (words, the newline): undo them all. The editor opened the
        // file with the link click, so undoing past the edit changes nothing.
        for (let press = 0; press < 40; press++)
            await session.page.keyboard.press("Control+Z");
        await session.page.keyboard.press("Control+S");
        const target = path.join(session.workspaceDir, editedFile);
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline && !(await readFile(target)).equals(originalEditedFile))
            await new Promise((resolve) => setTimeout(resolve, 200));
        await session.assertWorkspaceUnchanged();
        await session.screenshot("undone");
    });
});
