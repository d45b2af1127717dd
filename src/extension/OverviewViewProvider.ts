import * as vscode from "vscode";
import {isOverviewCommand, type OverviewNotification, type OverviewState} from "../common/overviewProtocol";
import {createNonce, renderWebviewShell} from "../common/webviewHtml";

/** The activity-bar view that shows what the extension knows: its version and the llama.cpp backend. */
export class OverviewViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
    public static readonly viewId = "kvDistill.overview";
    private view: vscode.WebviewView | undefined;
    private readonly disposables: vscode.Disposable[] = [];

    public constructor(
        private readonly extensionUri: vscode.Uri,
        private state: OverviewState,
        private readonly onShowLog: () => void
    ) {}

    public resolveWebviewView(webviewView: vscode.WebviewView): void {
        this.view = webviewView;
        const mediaRoot = vscode.Uri.joinPath(this.extensionUri, "media");
        const webview = webviewView.webview;
        webview.options = {enableScripts: true, localResourceRoots: [mediaRoot]};
        webview.html = renderWebviewShell({
            title: "KV-Distill",
            cspSource: webview.cspSource,
            nonce: createNonce(),
            scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(mediaRoot, "dist", "overview.js")).toString(),
            styleUri: webview.asWebviewUri(vscode.Uri.joinPath(mediaRoot, "overview", "overview.css")).toString()
        });
        this.disposables.push(
            webview.onDidReceiveMessage((message: unknown) => {
                if (!isOverviewCommand(message))
                    return;
                if (message.type === "ready")
                    this.postState();
                else if (message.type === "showLog")
                    this.onShowLog();
            }),
            webviewView.onDidDispose(() => {
                this.view = undefined;
            })
        );
    }

    public update(state: OverviewState): void {
        this.state = state;
        this.postState();
    }

    public dispose(): void {
        for (const disposable of this.disposables.splice(0))
            disposable.dispose();
    }

    private postState(): void {
        const message: OverviewNotification = {type: "state", state: this.state};
        void this.view?.webview.postMessage(message);
    }
}
