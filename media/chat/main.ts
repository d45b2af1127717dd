// The chat webview: renders what the extension posts (conversation, cache status) and sends the
// user's actions back. It keeps no chat data of its own; only the unsent draft lives in
// getState/setState so that it survives the view being hidden.
import type {CacheStatus} from "../../src/common/cacheStatus";
import {
    isChatNotification,
    type ChatAssistantEntry,
    type ChatCommand,
    type ChatConversation,
    type ChatEntry,
    type ConversationSummary
} from "../../src/common/chatProtocol";
import {chatStringsEnglish, type ChatStringKey, type ChatStrings} from "../../src/common/chatStrings";
import {formatPercent} from "../../src/common/describeStatusBar";
import {formatMessage} from "../../src/common/formatMessage";
import {splitTextByLinkTargets} from "../../src/common/splitTextByLinkTargets";
import {createChatMarkdownRenderer} from "./renderChatMarkdown";

type WebviewState = {draft?: string};

declare function acquireVsCodeApi(): {
    postMessage(message: ChatCommand): void;
    getState(): WebviewState | undefined;
    setState(state: WebviewState): void;
};

const vscodeApi = acquireVsCodeApi();
const markdown = createChatMarkdownRenderer();
let strings: ChatStrings = {...chatStringsEnglish};
let status: CacheStatus | undefined;
let conversation: ChatConversation | undefined;
let history: ConversationSummary[] = [];
const pendingRenders = new Set<string>();
let renderScheduled = false;

function text(key: ChatStringKey, ...args: Array<string | number>): string {
    return formatMessage(strings[key], ...args);
}

function post(message: ChatCommand): void {
    vscodeApi.postMessage(message);
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, options: {className?: string; testId?: string; text?: string} = {}): HTMLElementTagNameMap[K] {
    const created = document.createElement(tag);
    if (options.className !== undefined)
        created.className = options.className;
    if (options.testId !== undefined)
        created.dataset.testid = options.testId;
    if (options.text !== undefined)
        created.textContent = options.text;
    return created;
}

function button(label: string, testId: string, onClick: () => void, className = ""): HTMLButtonElement {
    const created = element("button", {className, testId, text: label});
    created.type = "button";
    created.addEventListener("click", onClick);
    return created;
}

// ---- layout -------------------------------------------------------------------------------

const root = document.getElementById("root") as HTMLElement;
const header = element("div", {className: "header", testId: "chat-header"});
const headerRow = element("div", {className: "header-row"});
const modelLabel = element("span", {className: "model", testId: "chat-model"});
const cacheState = element("span", {className: "cache-state", testId: "chat-cache-state"});
const spacer = element("span", {className: "spacer"});
const selectModelButton = button("", "chat-select-model", () => post({type: "runCommand", command: "selectModel"}), "secondary");
const distillButton = button("", "chat-distill", () => post({type: "runCommand", command: "distillWorkspace"}), "secondary");
const reportButton = button("", "chat-cache-report", () => post({type: "runCommand", command: "showCacheReport"}), "secondary");
headerRow.append(modelLabel, cacheState, spacer, selectModelButton, distillButton, reportButton);
const engineState = element("div", {className: "engine-state", testId: "chat-engine-state"});
const progressRow = element("div", {className: "progress-row", testId: "chat-progress-row"});
const progressBar = element("progress", {testId: "chat-progress"});
progressBar.max = 1;
const progressLabel = element("span", {className: "progress-label", testId: "chat-progress-label"});
const cancelButton = button("", "chat-cancel", () => post({type: "cancelOperation"}), "secondary");
progressRow.append(progressBar, progressLabel, cancelButton);
const staleBanner = element("div", {className: "stale-banner", testId: "chat-stale"});
const staleText = element("span", {className: "stale-text"});
const refreshButton = button("", "chat-refresh", () => post({type: "runCommand", command: "distillWorkspace"}), "secondary");
staleBanner.append(staleText, refreshButton);
header.append(headerRow, engineState, progressRow, staleBanner);

const messages = element("div", {className: "messages", testId: "chat-messages"});
messages.setAttribute("role", "log");
messages.setAttribute("aria-live", "polite");

const composer = element("div", {className: "composer"});
const historyRow = element("div", {className: "composer-row"});
const historySelect = element("select", {testId: "chat-history"});
const newChatButton = button("", "chat-new", () => post({type: "newChat"}), "secondary");
historyRow.append(historySelect, newChatButton);
const inputRow = element("div", {className: "composer-row"});
const input = element("textarea", {testId: "chat-input"});
input.rows = 3;
const sendButton = button("", "chat-send", send);
const stopButton = button("", "chat-stop", () => post({type: "stop"}), "secondary");
inputRow.append(input, sendButton, stopButton);
composer.append(historyRow, inputRow);
root.replaceChildren(header, messages, composer);

input.value = vscodeApi.getState()?.draft ?? "";

// ---- header -------------------------------------------------------------------------------

function phaseText(busy: NonNullable<CacheStatus["busy"]>): string {
    const percent = busy.fraction === undefined ? "" : formatPercent(busy.fraction);
    switch (busy.phase) {
        case "loading-model": return text("phaseLoadingModel");
        case "indexing": return text("phaseIndexing");
        case "tokenizing": return text("phaseTokenizing");
        case "prefilling": return text("phasePrefilling", percent);
        case "saving": return text("phaseSaving");
        case "answering": return text("phaseAnswering");
        case "downloading": return text("phaseDownloading", percent);
        default: return text("phaseWaiting");
    }
}

function staleReasonText(reason: CacheStatus["stale"]["reasons"][number]): string {
    switch (reason) {
        case "files-changed": return text("reasonFilesChanged");
        case "files-added": return text("reasonFilesAdded");
        case "files-deleted": return text("reasonFilesDeleted");
        case "ignore-rules-changed": return text("reasonIgnoreRulesChanged");
        case "settings-changed": return text("reasonSettingsChanged");
        case "branch-switched": return text("reasonBranchSwitched");
    }
}

function renderStatus(): void {
    if (status === undefined)
        return;
    modelLabel.textContent = status.model.configured ? text("modelLabel", status.model.label) : text("modelNone");
    modelLabel.dataset.configured = String(status.model.configured);
    selectModelButton.textContent = text("selectModel");
    distillButton.textContent = text("distill");
    reportButton.textContent = text("cacheReport");
    cancelButton.textContent = text("cancel");
    refreshButton.textContent = text("refresh");

    let cacheText: string;
    let state: string = status.cache.kind;
    if (!status.workspaceOpen) {
        cacheText = text("noWorkspace");
        state = "no-workspace";
    } else if (!status.engineAvailable) {
        cacheText = text("engineUnavailable");
        state = "no-engine";
    } else if (status.cache.kind === "ready") {
        cacheText = text("cacheReady", status.cache.summary.files, formatPercent(status.cache.summary.effectiveKeepRatio));
        if (status.stale.stale)
            state = "stale";
    } else if (status.cache.kind === "error") {
        cacheText = text("cacheError", status.cache.message);
    } else if (status.cache.kind === "none") {
        cacheText = text("cacheNone");
    } else {
        cacheText = text("cacheUnknown");
    }
    cacheState.textContent = cacheText;
    cacheState.dataset.state = state;

    const usable = status.workspaceOpen && status.engineAvailable;
    selectModelButton.hidden = status.model.configured;
    distillButton.hidden = !usable || !status.model.configured || status.busy !== undefined;
    reportButton.hidden = !usable;

    engineState.dataset.state = status.engine.kind;
    if (status.engine.kind === "crashed") {
        engineState.textContent = text("engineCrashed", status.engine.message);
        engineState.hidden = false;
    } else if (status.engine.kind === "starting") {
        engineState.textContent = text("engineStarting");
        engineState.hidden = false;
    } else {
        engineState.hidden = true;
    }

    const busy = status.busy;
    progressRow.hidden = busy === undefined;
    if (busy !== undefined) {
        if (busy.fraction === undefined)
            progressBar.removeAttribute("value");
        else
            progressBar.value = busy.fraction;
        progressRow.dataset.operation = busy.operation;
        progressRow.dataset.phase = busy.phase;
        progressLabel.textContent = busy.message === undefined ? phaseText(busy) : `${phaseText(busy)} (${busy.message})`;
        cancelButton.hidden = !busy.cancellable;
    }

    staleBanner.hidden = !status.stale.stale || status.cache.kind !== "ready";
    if (status.stale.stale)
        staleText.textContent = text("cacheStale", status.stale.reasons.map(staleReasonText).join(", "));
    refreshButton.hidden = status.busy !== undefined;
}

// ---- conversation -------------------------------------------------------------------------

const entryElements = new Map<string, HTMLElement>();

function isAnswering(): boolean {
    return conversation?.entries.some((entry) => entry.role === "assistant" && entry.status === "streaming") ?? false;
}

function renderComposer(): void {
    input.placeholder = text("inputPlaceholder");
    input.setAttribute("aria-label", text("inputLabel"));
    sendButton.textContent = text("send");
    stopButton.textContent = text("stop");
    newChatButton.textContent = text("newChat");
    const answering = isAnswering();
    stopButton.hidden = !answering;
    sendButton.disabled = answering;
    historySelect.disabled = answering;
    historySelect.setAttribute("aria-label", text("earlierChats"));
    const options: HTMLOptionElement[] = [];
    const currentOption = element("option", {text: conversation?.title === "" || conversation === undefined ? text("currentChat") : conversation.title});
    currentOption.value = conversation?.id ?? "";
    options.push(currentOption);
    for (const summary of history) {
        if (summary.id === conversation?.id)
            continue;
        const option = element("option", {text: summary.title === "" ? summary.createdAt : summary.title});
        option.value = summary.id;
        options.push(option);
    }
    historySelect.replaceChildren(...options);
    historySelect.value = conversation?.id ?? "";
    historySelect.hidden = options.length <= 1;
}

function renderConversation(): void {
    entryElements.clear();
    const children: HTMLElement[] = [];
    if (conversation === undefined || conversation.entries.length === 0)
        children.push(element("div", {className: "empty", testId: "chat-empty", text: text("emptyState")}));
    for (const entry of conversation?.entries ?? []) {
        const created = createEntryElement(entry);
        entryElements.set(entry.id, created);
        children.push(created);
    }
    messages.replaceChildren(...children);
    renderComposer();
    messages.scrollTop = messages.scrollHeight;
}

function createEntryElement(entry: ChatEntry): HTMLElement {
    if (entry.role === "user") {
        const created = element("div", {className: "entry user", testId: "chat-question"});
        created.dataset.entryId = entry.id;
        created.append(element("div", {className: "who", text: text("you")}), element("div", {className: "question-text", text: entry.text}));
        return created;
    }
    const created = element("div", {className: "entry assistant", testId: "chat-answer"});
    created.dataset.entryId = entry.id;
    fillAnswer(created, entry);
    return created;
}

function fillAnswer(container: HTMLElement, entry: ChatAssistantEntry): void {
    container.dataset.status = entry.status;
    const body = element("div", {className: "answer-body", testId: "chat-answer-body"});
    body.innerHTML = markdown.render(entry.text);
    decorateCodeBlocks(body);
    if (entry.links.length > 0)
        linkifyFileReferences(body, entry.links);
    const parts: HTMLElement[] = [element("div", {className: "who", text: text("assistant")}), body];

    if (entry.status === "stopped")
        parts.push(element("div", {className: "answer-stopped", testId: "chat-answer-stopped", text: text("answerStopped")}));
    if (entry.status === "error") {
        const error = element("div", {className: "answer-error", testId: "chat-answer-error"});
        error.append(element("span", {text: text("answerError", entry.errorMessage ?? "")}));
        for (const action of entry.errorActions ?? []) {
            const label = action === "selectModel" ? text("selectModel") : action === "showLog" ? text("showLog") : action === "distillWorkspace" ? text("distill") : text("cacheReport");
            error.append(button(label, "chat-error-action", () => post({type: "runCommand", command: action}), "secondary"));
        }
        parts.push(error);
    }
    if (entry.context !== undefined) {
        const context = entry.context;
        let line = text("contextLine", context.filesInCache, formatPercent(context.effectiveKeepRatio), context.filesExcluded);
        if (context.cacheOutcome === "refreshed")
            line += "; " + text("contextRefreshed");
        else if (context.cacheOutcome === "built")
            line += "; " + text("contextBuilt");
        line += "; " + (context.staleCount > 0 ? text("contextStale", context.staleCount, context.staleFiles.join(", ")) : text("contextNoStale"));
        const contextElement = element("div", {className: "answer-context", testId: "chat-answer-context", text: line});
        contextElement.dataset.staleCount = String(context.staleCount);
        parts.push(contextElement);
    }
    if (entry.status !== "streaming" && entry.text !== "") {
        const actions = element("div", {className: "answer-actions"});
        actions.append(button(text("copyAnswer"), "chat-copy-answer", () => post({type: "copyText", text: entry.text}), "secondary"));
        parts.push(actions);
    }
    if (entry.status === "done" && entry.followUps.length > 0) {
        const followUps = element("div", {className: "follow-ups", testId: "chat-follow-ups"});
        followUps.append(element("span", {className: "label", text: text("followUps")}));
        for (const followUp of entry.followUps)
            followUps.append(button(followUp, "chat-follow-up", () => ask(followUp), "link"));
        parts.push(followUps);
    }
    container.replaceChildren(...parts);
}

function decorateCodeBlocks(body: HTMLElement): void {
    for (const pre of Array.from(body.querySelectorAll("pre"))) {
        const wrapper = element("div", {className: "code-block"});
        pre.replaceWith(wrapper);
        const code = pre.textContent ?? "";
        const copy = button(text("copyCode"), "chat-copy-code", () => {
            post({type: "copyText", text: code.replace(/\n$/, "")});
            copy.textContent = text("copied");
            setTimeout(() => { copy.textContent = text("copyCode"); }, 1500);
        }, "secondary copy-code");
        wrapper.append(pre, copy);
    }
}

/** Turns the extension-verified file references into links, outside code blocks and links. */
function linkifyFileReferences(body: HTMLElement, references: readonly string[]): void {
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT, {
        acceptNode: (node) => node.parentElement?.closest("pre, a") === null ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT
    });
    const textNodes: Text[] = [];
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode())
        textNodes.push(node as Text);
    for (const node of textNodes) {
        const segments = splitTextByLinkTargets(node.data, references);
        if (!segments.some((segment) => segment.link))
            continue;
        const fragment = document.createDocumentFragment();
        for (const segment of segments) {
            if (!segment.link) {
                fragment.append(segment.text);
                continue;
            }
            const link = element("a", {className: "file-link", testId: "chat-file-link", text: segment.text});
            link.href = "#";
            link.dataset.reference = segment.text;
            link.title = segment.text;
            fragment.append(link);
        }
        node.replaceWith(fragment);
    }
}

function scheduleEntryRender(entryId: string): void {
    pendingRenders.add(entryId);
    if (renderScheduled)
        return;
    renderScheduled = true;
    requestAnimationFrame(() => {
        renderScheduled = false;
        const nearBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
        for (const id of pendingRenders) {
            const entry = conversation?.entries.find((candidate) => candidate.id === id);
            const container = entryElements.get(id);
            if (entry !== undefined && entry.role === "assistant" && container !== undefined)
                fillAnswer(container, entry);
        }
        pendingRenders.clear();
        if (nearBottom)
            messages.scrollTop = messages.scrollHeight;
    });
}

// ---- actions ------------------------------------------------------------------------------

function ask(question: string): void {
    if (question.trim() === "" || isAnswering())
        return;
    post({type: "ask", text: question});
}

function send(): void {
    const question = input.value;
    if (question.trim() === "" || isAnswering())
        return;
    ask(question);
    input.value = "";
    vscodeApi.setState({draft: ""});
}

input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send();
    }
});
input.addEventListener("input", () => vscodeApi.setState({draft: input.value}));
document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isAnswering()) {
        event.preventDefault();
        post({type: "stop"});
    }
});
historySelect.addEventListener("change", () => {
    if (historySelect.value !== "" && historySelect.value !== conversation?.id)
        post({type: "openConversation", conversationId: historySelect.value});
});

// Links never navigate the webview: file references go to the extension, which checks them.
messages.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("a") : null;
    if (target === null)
        return;
    event.preventDefault();
    const reference = target.dataset.reference;
    if (reference !== undefined) {
        post({type: "openFileReference", reference});
        return;
    }
    const href = target.getAttribute("href") ?? "";
    if (/^https?:\/\//i.test(href)) {
        post({type: "openExternalLink", url: href});
    } else if (href !== "" && !href.startsWith("#")) {
        let decoded = href;
        try {
            decoded = decodeURI(href);
        } catch {
            // Keep it as written.
        }
        post({type: "openFileReference", reference: decoded});
    }
});

// ---- messages from the extension ------------------------------------------------------------

window.addEventListener("message", (event: MessageEvent<unknown>) => {
    const message = event.data;
    if (!isChatNotification(message))
        return;
    switch (message.type) {
        case "init":
            strings = {...chatStringsEnglish, ...message.strings};
            status = message.status;
            conversation = message.conversation;
            history = message.history;
            renderStatus();
            renderConversation();
            return;
        case "status":
            status = message.status;
            renderStatus();
            return;
        case "conversation":
            conversation = message.conversation;
            history = message.history;
            renderConversation();
            return;
        case "answerDelta": {
            const entry = conversation?.entries.find((candidate) => candidate.id === message.entryId);
            if (entry !== undefined && entry.role === "assistant") {
                entry.text += message.text;
                scheduleEntryRender(entry.id);
            }
            return;
        }
        case "entry": {
            const entries = conversation?.entries;
            const index = entries?.findIndex((candidate) => candidate.id === message.entry.id) ?? -1;
            if (entries !== undefined && index >= 0) {
                entries[index] = message.entry;
                scheduleEntryRender(message.entry.id);
                renderComposer();
            }
            return;
        }
        case "focusInput":
            input.focus();
            return;
    }
});

renderComposer();
post({type: "ready"});
