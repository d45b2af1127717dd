// Hosts the chat webview in the activity-bar view and, on request, in an editor tab. Both show
// the same conversation through the one ChatController.
import * as vscode from "vscode";
import {renderChatWebviewHtml} from "../common/chatWebviewHtml";
import {createNonce} from "../common/webviewHtml";
import type {ChatController, ChatSink} from "./ChatController";
import type {ExtensionLog} from "./ExtensionLog";

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
    public static readonly viewId = "kvDistill.chat";
    public static readonly panelViewType = "kvDistill.chatPanel";
    private readonly disposables: vscode.Disposable[] = [];
    private panel: vscode.WebviewPanel | undefined;

    public constructor(
        private readonly extensionUri: vscode.Uri,
        private readonly controller: ChatController,
        private readonly log: ExtensionLog,
        /** Called each time a chat webview opens (to look up the saved cache on first use). */
        private readonly onDidOpen: () => void
    ) {}

    public resolveWebviewView(webviewView: vscode.WebviewView): void {
        this.log.info("Chat view opened");
        const connection = this.connect(webviewView.webview);
        webviewView.onDidDispose(() => connection.dispose(), undefined, this.disposables);
    }

    /** Shows the chat in the sidebar view, or in the editor tab when that is open. */
    public async reveal(): Promise<void> {
        if (this.panel !== undefined) {
            this.panel.reveal();
            return;
        }
        await vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`);
    }

    public openInEditor(): void {
        if (this.panel !== undefined) {
            this.panel.reveal();
            return;
        }
        const panel = vscode.window.createWebviewPanel(ChatViewProvider.panelViewType, vscode.l10n.t("KV-Distill Chat"), vscode.ViewColumn.Beside, {
            enableScripts: true,
            localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, "media")]
        });
        panel.iconPath = vscode.Uri.joinPath(this.extensionUri, "media", "icon.svg");
        this.panel = panel;
        this.log.info("Chat opened in an editor tab");
        const connection = this.connect(panel.webview);
        panel.onDidDispose(() => {
            connection.dispose();
            this.panel = undefined;
        }, undefined, this.disposables);
    }

    public dispose(): void {
        this.panel?.dispose();
        for (const disposable of this.disposables.splice(0))
            disposable.dispose();
    }

    private connect(webview: vscode.Webview): vscode.Disposable {
        this.onDidOpen();
        const mediaRoot = vscode.Uri.joinPath(this.extensionUri, "media");
        webview.options = {enableScripts: true, localResourceRoots: [mediaRoot]};
        webview.html = renderChatWebviewHtml({
            cspSource: webview.cspSource,
            nonce: createNonce(),
            mediaUri: (relativePath) => webview.asWebviewUri(vscode.Uri.joinPath(mediaRoot, ...relativePath.split("/"))).toString(),
            title: vscode.l10n.t("KV-Distill Chat")
        });
        const sink: ChatSink = {post: (message) => void webview.postMessage(message)};
        const attachment = this.controller.attach(sink);
        const listener = webview.onDidReceiveMessage((message: unknown) => this.controller.handleMessage(sink, message));
        return new vscode.Disposable(() => {
            attachment.dispose();
            listener.dispose();
        });
    }
}
