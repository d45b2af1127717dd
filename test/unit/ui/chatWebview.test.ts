import {strict as assert} from "node:assert";
import {readdir, readFile} from "node:fs/promises";
import * as path from "node:path";
import {describe, it} from "node:test";
import {createChatMarkdownRenderer} from "../../../media/chat/renderChatMarkdown";
import {chatScriptPath, chatStylePath, renderChatWebviewHtml} from "../../../src/common/chatWebviewHtml";
import {createNonce} from "../../../src/common/webviewHtml";

const repositoryRoot = path.resolve(__dirname, "..", "..", "..", "..");

describe("chat webview HTML", () => {
    const nonce = createNonce();
    const cspSource = "https://file+.vscode-resource.vscode-cdn.net";
    const mediaBase = `${cspSource}/ext/media`;
    const html = renderChatWebviewHtml({cspSource, nonce, mediaUri: (relativePath) => `${mediaBase}/${relativePath}`, title: "KV-Distill Chat"});

    it("has a strict CSP: nothing by default, scripts only with this nonce", () => {
        const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
        assert.ok(csp !== undefined);
        const directives = new Map(csp.split(";").map((directive) => {
            const [name, ...values] = directive.trim().split(/\s+/);
            return [name!, values];
        }));
        assert.deepEqual(directives.get("default-src"), ["'none'"]);
        assert.deepEqual(directives.get("script-src"), [`'nonce-${nonce}'`]);
        assert.deepEqual(directives.get("style-src"), [cspSource]);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
        assert.equal(directives.has("connect-src"), false, "the webview cannot fetch anything");
    });

    it("loads one script, by nonce, and only from media/", () => {
        const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
        assert.equal(scripts.length, 1);
        assert.match(scripts[0]![1]!, new RegExp(`nonce="${nonce}"`));
        assert.ok(scripts[0]![1]!.includes(`src="${mediaBase}/${chatScriptPath}"`));
        assert.equal(scripts[0]![2]!.trim(), "", "no inline script");
        const resources = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
        assert.deepEqual(resources.sort(), [`${mediaBase}/${chatScriptPath}`, `${mediaBase}/${chatStylePath}`].sort());
    });

    it("has no inline event handlers or inline styles", () => {
        assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
        assert.doesNotMatch(html, /\sstyle\s*=/i);
        assert.doesNotMatch(html, /<style\b/i);
    });

    it("the webview's sources never add inline handlers, eval or javascript: URLs", async () => {
        const folder = path.join(repositoryRoot, "media", "chat");
        const sources = (await readdir(folder)).filter((name) => name.endsWith(".ts"));
        assert.ok(sources.includes("main.ts"));
        for (const name of sources) {
            const source = await readFile(path.join(folder, name), "utf8");
            assert.doesNotMatch(source, /setAttribute\(\s*["'`]on|\.on[a-z]+\s*=|\beval\(|new Function\(|javascript:|insertAdjacentHTML|document\.write/i, name);
            // The one innerHTML assignment takes the Markdown renderer's output, which escapes raw HTML.
            const innerHtml = [...source.matchAll(/\.innerHTML\s*=\s*([^;]+);/g)].map((match) => match[1]!.trim());
            assert.ok(innerHtml.every((expression) => expression === "markdown.render(entry.text)"), `${name}: ${innerHtml.join(", ")}`);
        }
    });
});

describe("chat Markdown rendering", () => {
    const renderer = createChatMarkdownRenderer();

    it("escapes raw HTML in an answer", () => {
        const html = renderer.render("Hi <script>alert(1)</script> <img src=x onerror=alert(1)> <a href=\"javascript:alert(1)\">x</a>");
        assert.doesNotMatch(html, /<script|<img|<a /i);
        assert.match(html, /&lt;script&gt;/);
    });

    it("drops javascript: links and images", () => {
        const html = renderer.render("[click](javascript:alert(1)) ![pic](https://example.com/a.png) [ok](src/a.ts#L3)");
        assert.doesNotMatch(html, /href="javascript:/i);
        assert.doesNotMatch(html, /<img/i);
        assert.match(html, /<a href="src\/a\.ts#L3">ok<\/a>/);
    });

    it("highlights code offline for named and unnamed languages", () => {
        const typescript = renderer.render("```ts\nconst answer: number = 42;\n```");
        assert.match(typescript, /<pre class="hljs"><code class="language-ts">/);
        assert.match(typescript, /<span class="hljs-keyword">const<\/span>/);
        const python = renderer.render("```python\ndef f():\n    return 'x'\n```");
        assert.match(python, /<span class="hljs-keyword">def<\/span>/);
        const unknown = renderer.render("```brainfuck\n+++<>\n```");
        assert.match(unknown, /<pre><code class="language-brainfuck">\+\+\+&lt;&gt;/);
    });
});
