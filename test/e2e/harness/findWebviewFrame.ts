import type {FrameLocator, Page} from "playwright-core";
import {EditorTimeoutError} from "./e2eErrors";

/**
 * The document of an extension's webview. VS Code nests it in two iframes: the outer
 * `iframe.webview` (its src names the extension) and the inner `iframe#active-frame` that holds
 * the extension's HTML. `title` narrows to one view when the extension shows several.
 */
export function findWebviewFrame(page: Page, extensionId: string, title?: string): FrameLocator {
    const titleFilter = title === undefined ? "" : `[title="${title.replace(/"/g, "\\\"")}"]`;
    return page
        .frameLocator(`iframe.webview[src*="extensionId=${extensionId}"]${titleFilter}`)
        .frameLocator("iframe#active-frame");
}

/**
 * The webview of the extension whose document contains `selector`. The outer iframes of several
 * views of one extension carry no title, so content is the reliable way to tell them apart.
 */
export async function findWebviewFrameContaining(page: Page, extensionId: string, selector: string, timeoutMs = 60_000): Promise<FrameLocator> {
    const deadline = Date.now() + timeoutMs;
    const outerFrames = page.locator(`iframe.webview[src*="extensionId=${extensionId}"]`);
    while (Date.now() < deadline) {
        const count = await outerFrames.count();
        for (let index = 0; index < count; index++) {
            const frame = outerFrames.nth(index).contentFrame().frameLocator("iframe#active-frame");
            if (await frame.locator(selector).count().catch(() => 0) > 0)
                return frame;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new EditorTimeoutError(`no webview of ${extensionId} shows ${selector} after ${timeoutMs} ms`);
}
