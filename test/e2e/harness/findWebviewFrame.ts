import type {FrameLocator, Page} from "playwright-core";

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
