// The chat webview's HTML: the shared strict shell (CSP with a nonce, no inline code) with the
// chat's script and stylesheet, both from media/.
import {renderWebviewShell} from "./webviewHtml";

export type ChatWebviewHtmlOptions = {
    cspSource: string;
    nonce: string;
    /** Maps a path below media/ to the URI the webview loads it from (webview.asWebviewUri). */
    mediaUri(relativePath: string): string;
    title: string;
};

export const chatScriptPath = "dist/chat.js";
export const chatStylePath = "chat/chat.css";

export function renderChatWebviewHtml(options: ChatWebviewHtmlOptions): string {
    return renderWebviewShell({
        title: options.title,
        cspSource: options.cspSource,
        nonce: options.nonce,
        scriptUri: options.mediaUri(chatScriptPath),
        styleUri: options.mediaUri(chatStylePath)
    });
}
