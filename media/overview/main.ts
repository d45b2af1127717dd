// The overview webview: renders the state the extension posts; keeps nothing of its own.
import {isOverviewNotification, type OverviewCommand, type OverviewState} from "../../src/common/overviewProtocol";

declare function acquireVsCodeApi(): {postMessage(message: OverviewCommand): void};

const vscodeApi = acquireVsCodeApi();
const root = document.getElementById("root") as HTMLElement;

function render(state: OverviewState): void {
    root.replaceChildren();
    const heading = document.createElement("h2");
    heading.textContent = "KV-Distill";
    const version = document.createElement("p");
    version.dataset.testid = "extension-version";
    version.textContent = `Version ${state.extensionVersion}`;
    const backend = document.createElement("p");
    backend.dataset.testid = "backend";
    backend.dataset.state = state.backend.kind;
    if (state.backend.kind === "probing")
        backend.textContent = "Looking for a llama.cpp backend…";
    else if (state.backend.kind === "found")
        backend.textContent = `Backend: ${state.backend.description}`;
    else
        backend.textContent = `No llama.cpp backend: ${state.backend.reason}`;
    const showLog = document.createElement("button");
    showLog.type = "button";
    showLog.textContent = "Show Log";
    showLog.dataset.testid = "show-log";
    showLog.addEventListener("click", () => vscodeApi.postMessage({type: "showLog"}));
    root.append(heading, version, backend, showLog);
}

window.addEventListener("message", (event: MessageEvent<unknown>) => {
    if (isOverviewNotification(event.data))
        render(event.data.state);
});

vscodeApi.postMessage({type: "ready"});
