// Builds the HTML shell of a webview: strict CSP, scripts only by nonce, nothing inline.
import {randomBytes} from "node:crypto";

export function createNonce(): string {
    return randomBytes(18).toString("base64url");
}

export type WebviewShellOptions = {
    title: string;
    /** The webview's `cspSource`. */
    cspSource: string;
    nonce: string;
    scriptUri: string;
    styleUri: string;
};

export function renderWebviewShell(options: WebviewShellOptions): string {
    const csp = [
        "default-src 'none'",
        `img-src ${options.cspSource} data:`,
        `style-src ${options.cspSource}`,
        `font-src ${options.cspSource}`,
        `script-src 'nonce-${options.nonce}'`
    ].join("; ");
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttribute(options.styleUri)}">
<title>${escapeText(options.title)}</title>
</head>
<body>
<main id="root" aria-live="polite"></main>
<script nonce="${options.nonce}" src="${escapeAttribute(options.scriptUri)}"></script>
</body>
</html>`;
}

function escapeAttribute(value: string): string {
    return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

function escapeText(value: string): string {
    return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
