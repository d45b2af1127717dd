// Renders an answer's Markdown to HTML for the chat webview: raw HTML in the answer is escaped,
// images are off (the CSP would block remote ones anyway), code is highlighted offline with a
// fixed set of highlight.js languages bundled into the webview script.
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import csharp from "highlight.js/lib/languages/csharp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import MarkdownIt from "markdown-it";

const languages = {bash, c, cpp, csharp, css, diff, go, java, javascript, json, markdown, python, rust, shell, sql, typescript, xml, yaml};
for (const [name, language] of Object.entries(languages))
    hljs.registerLanguage(name, language);
hljs.registerAliases(["ts", "tsx", "mts", "cts"], {languageName: "typescript"});
hljs.registerAliases(["js", "jsx", "mjs", "cjs"], {languageName: "javascript"});
hljs.registerAliases(["sh", "zsh", "console"], {languageName: "bash"});
hljs.registerAliases(["py"], {languageName: "python"});
hljs.registerAliases(["html", "svg", "vue"], {languageName: "xml"});
hljs.registerAliases(["yml"], {languageName: "yaml"});
hljs.registerAliases(["rs"], {languageName: "rust"});
hljs.registerAliases(["h", "hpp", "cc", "cxx"], {languageName: "cpp"});

/** Code longer than this is shown without highlighting, to keep streaming smooth. */
const maxHighlightedCharacters = 60_000;

function escapeHtml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function createChatMarkdownRenderer(): {render(markdownText: string): string} {
    const renderer = new MarkdownIt({
        html: false,
        linkify: false,
        breaks: false,
        typographer: false,
        highlight: (code, languageName) => {
            if (code.length > maxHighlightedCharacters)
                return "";
            const language = languageName.trim().toLowerCase();
            try {
                if (language !== "" && hljs.getLanguage(language) !== undefined)
                    return `<pre class="hljs"><code class="language-${escapeHtml(language)}">${hljs.highlight(code, {language, ignoreIllegals: true}).value}</code></pre>`;
                if (language === "")
                    return `<pre class="hljs"><code>${hljs.highlightAuto(code).value}</code></pre>`;
            } catch {
                // Fall back to plain, escaped text.
            }
            return "";
        }
    });
    renderer.disable("image");
    return {render: (markdownText) => renderer.render(markdownText)};
}
