import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {createNonce, renderWebviewShell} from "../../src/common/webviewHtml";

describe("renderWebviewShell", () => {
    const nonce = createNonce();
    const html = renderWebviewShell({title: "T <x>", cspSource: "vscode-resource:", nonce, scriptUri: "vscode-resource:/media/dist/a.js", styleUri: "vscode-resource:/media/a.css"});

    it("sets a strict CSP that allows scripts only by nonce", () => {
        const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
        assert.ok(csp !== undefined, "CSP meta tag present");
        assert.match(csp, /default-src 'none'/);
        assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'`));
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    });

    it("has no inline scripts or inline event handlers", () => {
        const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
        assert.equal(scripts.length, 1);
        assert.match(scripts[0]![1]!, new RegExp(`nonce="${nonce}"`));
        assert.equal(scripts[0]![2]!.trim(), "");
        assert.doesNotMatch(html, /\son[a-z]+=/i);
    });

    it("escapes the title", () => {
        assert.match(html, /<title>T &lt;x&gt;<\/title>/);
    });

    it("makes a fresh nonce each time", () => {
        assert.notEqual(createNonce(), createNonce());
    });
});
