import type {Page} from "playwright-core";

/**
 * The lines the Output panel's editor currently renders, with Monaco's non-breaking spaces
 * turned back into spaces. Only what is on screen (Monaco renders visible lines only), and a
 * long line that word-wrap splits comes back as several lines: compare with whitespace collapsed.
 */
export async function readOutputPanelText(page: Page): Promise<string> {
    const lines = await page.locator(".part.panel .monaco-editor .view-lines .view-line").allInnerTexts();
    return lines.map((line) => line.replace(/\u00a0/g, " ")).join("\n");
}
